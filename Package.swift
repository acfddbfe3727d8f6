// swift-tools-version:6.0
// rpo: Relative Preference Optimization (arXiv 2402.10958) and its baselines on a CPU.
// One library (Shared) that every tool links, thin executables, C shims for libzstd, zlib and OpenBLAS, and
// CKernels: the few kernels written per instruction set (chosen at run time).
import PackageDescription

// The tools: thin executables over Shared, one folder each under Sources/ (one name per line).
let tools = [
    "rpo-bench",
    "rpo-convert",
    "rpo-embed",
    "rpo-judge",
    "rpo-pairs",
    "rpo-report",
    "rpo-sample",
    "rpo-tokenize",
    "rpo-train",
]

// libFuzzer targets, one folder each under Fuzz/: declared only when RPO_FUZZ is set (`make fuzz`, which builds
// them with -sanitize=fuzzer,address in .build-fuzz), so that ordinary builds never see them.
let fuzzTargets = Context.environment["RPO_FUZZ"] == nil ? [] : [
    "rpo-fuzz-json",
    "rpo-fuzz-gguf",
    "rpo-fuzz-safetensors",
]

// Numeric code is built with -Ounchecked only where it is measured to matter; the default release
// configuration (-O, bounds checks on) is what runs the tests.
let package = Package(
    name: "rpo",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Shared", targets: ["Shared"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(
            name: "Shared",
            dependencies: [
                "CZstd", "CZlib", "COpenBLAS", "CKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SharedTests",
            dependencies: ["Shared"],
            path: "Tests/SharedTests"
        ),
    ] + tools.map { name in
        .executableTarget(
            name: name,
            dependencies: ["Shared", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        )
    } + fuzzTargets.map { name in
        .executableTarget(name: name, dependencies: ["Shared", "FuzzDriver"], path: "Fuzz/\(name)")
    } + (fuzzTargets.isEmpty ? [] : [.target(name: "FuzzDriver", path: "Fuzz/FuzzDriver")])
)
