// swift-tools-version: 6.2
// Enface: a multi-tenant face-recognition service. See README.md and ../shared/DESIGN.md.

import PackageDescription

// A warning in Enface's own code fails its build, debug and release alike (dependencies' warnings
// are theirs: SwiftPM applies this to this package's targets only).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]
// Tests read better without importing every module that defines a member they touch.
let testSwiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "enface",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "enface", targets: ["enface"]),
        // For the benchmark (Benchmarks/) and fuzzing (Fuzz/) packages, which depend on this one by path.
        .library(name: "FaceIndex", targets: ["FaceIndex"]),
        .library(name: "WireFormats", targets: ["WireFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // Tests only: reading openapi.yaml to hold every answer to it.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // OpenBLAS's cblas.h (Debian: libopenblas-dev).
        .systemLibrary(name: "CBLAS"),
        // The scoring kernels in C: AVX2 + FMA chosen at run time, portable otherwise. -O3 in
        // every configuration: a debug build of a kernel is 10-30x slower, which no test needs.
        .target(
            name: "CFaceKernels",
            cSettings: [.unsafeFlags(["-O3"]), .treatAllWarnings(as: .error)]
        ),
        // glibc's count of heap bytes in use, for the process metrics.
        .target(name: "CProcessMemory", cSettings: [.treatAllWarnings(as: .error)]),
        // The in-memory vector core: shards, kernels, top-k. Pure Swift + BLAS; no tenants'
        // policies, no SQL, no HTTP. Optimised even in debug builds, for the same reason.
        .target(
            name: "FaceIndex",
            dependencies: ["CBLAS", "CFaceKernels"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"])]
        ),
        // dlib's HOG detector, 5-point landmarks and ResNet descriptor behind a C header
        // (Debian: libdlib-dev, with OpenBLAS as its BLAS). -O3 always: a debug build of dlib's
        // templates takes 8 s a photo instead of 0.3 s.
        .target(
            name: "CFaceEngine",
            cxxSettings: [.unsafeFlags(["-O3"]), .treatAllWarnings(as: .error)],
            linkerSettings: [.linkedLibrary("dlib"), .linkedLibrary("blas"), .linkedLibrary("lapack")]
        ),
        // Every parser of bytes a client sends, and nothing else: strict JSON (no duplicate keys,
        // bounded depth), the field-by-field reader, multipart/form-data, image headers read before
        // decoding. Foundation only, so the fuzz targets (Fuzz/) build it in a minute.
        .target(
            name: "WireFormats",
            swiftSettings: swiftSettings
        ),
        // Photos in, faces out: a bounded pool of dlib engines behind the image header check.
        .target(
            name: "FaceImages",
            dependencies: ["CBLAS", "CFaceEngine", "WireFormats"],
            swiftSettings: swiftSettings
        ),
        // The key hierarchy: master key -> tenant keys -> person keys -> sealed templates.
        .target(
            name: "TemplateProtection",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Tenants and their governance: lifecycle, plans, settings, quotas, credentials (API
        // keys, JWT, operator tokens), rate limits, the audit chain, provisioning files.
        .target(
            name: "Tenancy",
            dependencies: [
                "WireFormats",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            resources: [.copy("Models"), .copy("Schemas")],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL: connection pools per role, tenant-scoped transactions, migrations and the
        // embedded server used on a developer's machine and in CI.
        .target(
            name: "Storage",
            dependencies: [
                "Tenancy",
                "WireFormats",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        // The use cases; keeps the index and the database coherent. Knows nothing of HTTP.
        .target(
            name: "FaceService",
            dependencies: [
                "FaceImages", "FaceIndex", "Storage", "Tenancy", "TemplateProtection", "WireFormats",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The application: configuration, HTTP routes, middleware, problem+json errors, logging.
        .target(
            name: "EnfaceHTTP",
            dependencies: [
                "CProcessMemory", "FaceImages", "FaceIndex", "FaceService", "Storage", "Tenancy", "TemplateProtection",
                "WireFormats",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("OpenAPI")],
            swiftSettings: swiftSettings
        ),
        // The thin command-line front end: serve, migrate, db ….
        .executableTarget(
            name: "enface",
            dependencies: [
                // FaceIndex for `enface bench index` only, which measures the vector core alone.
                "EnfaceHTTP", "FaceImages", "FaceIndex", "FaceService", "Tenancy", "TemplateProtection", "WireFormats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Shared by the test targets: scratch databases, fixtures, polling, the binary as a process,
        // and the OpenAPI contract every answer is checked against.
        .target(
            name: "TestSupport",
            dependencies: [
                "Storage", "Tenancy", "WireFormats",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support",
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "WireFormatsTests",
            dependencies: ["WireFormats", "TestSupport"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "FaceServiceTests",
            dependencies: [
                "FaceIndex", "FaceService", "Storage", "Tenancy", "TestSupport", "WireFormats",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "FaceImagesTests",
            dependencies: ["FaceImages", "TestSupport"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "FaceIndexTests",
            dependencies: ["FaceIndex", "CFaceKernels", "TestSupport"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "TenancyTests",
            dependencies: [
                "Tenancy", "TemplateProtection", "TestSupport", "WireFormats", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "Tenancy", "TestSupport", "WireFormats", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "EnfaceHTTPTests",
            dependencies: [
                "EnfaceHTTP",
                "FaceService",
                "Storage",
                "Tenancy",
                "TemplateProtection",
                "TestSupport",
                "WireFormats",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "EnfaceCLITests",
            dependencies: [
                "enface",
                "Storage",
                "Tenancy",
                "TestSupport",
                "WireFormats",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: testSwiftSettings
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
