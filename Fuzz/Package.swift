// swift-tools-version: 6.2
// libFuzzer targets for every parser of client bytes (`WireFormats`): a package of its own, as
// swift-protobuf's FuzzTesting is, so the fuzzing flags never touch the main build. Built and run
// by `scripts/fuzz-parsers` (`make fuzz`):
//   swift build -c release --sanitize=fuzzer --sanitize=address

import PackageDescription

let package = Package(
    name: "enface-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "enface", path: "../")
    ],
    targets: [
        .executableTarget(name: "FuzzJSON", dependencies: [.product(name: "WireFormats", package: "enface")]),
        .executableTarget(name: "FuzzMultipartForm", dependencies: [.product(name: "WireFormats", package: "enface")]),
        .executableTarget(name: "FuzzImageHeader", dependencies: [.product(name: "WireFormats", package: "enface")]),
    ],
    swiftLanguageModes: [.v6]
)
