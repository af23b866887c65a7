// swift-tools-version: 6.3
// Enface's benchmarks: a package of their own (as swift-nio does), so the benchmark framework's
// dependencies never enter the main build. Run from this folder: `swift package benchmark`.

import PackageDescription

let package = Package(
    name: "enface-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "enface", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "FaceIndexBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FaceIndex", package: "enface"),
            ],
            path: "Benchmarks/FaceIndexBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
