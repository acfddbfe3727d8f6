// swift-tools-version:6.0
// rpo: Relative Preference Optimization (arXiv 2402.10958) and its baselines on a CPU.
// Three library targets in layers whose dependencies the compiler enforces (a lower one cannot import a
// higher one): RPOCore (tensors, layers, models and their files, tokenizers, I/O), RPOAlignment (data,
// losses and training, sampling, judging) over it, and RPOTools (the command-line conventions and the
// tools' engines) over both; thin executables over RPOTools; C shims for libzstd, zlib and OpenBLAS, and
// CKernels: the few kernels written per instruction set (chosen at run time).
import PackageDescription

// The tools: thin executables over the libraries, one folder each under Sources/ (one name per line).
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

// Linux only (README: Platform): the code calls Glibc directly and the system libraries come from apt, so no
// Apple platform is declared.
// Numeric code is built with -Ounchecked only where it is measured to matter; the default release
// configuration (-O, bounds checks on) is what runs the tests.
let package = Package(
    name: "rpo",
    products: [
        .library(name: "RPO", targets: ["RPOCore", "RPOAlignment", "RPOTools"]),
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
        .target(name: "RPOCore", dependencies: ["CZstd", "CZlib", "COpenBLAS", "CKernels"]),
        .target(name: "RPOAlignment", dependencies: ["RPOCore"]),
        .target(
            name: "RPOTools",
            dependencies: [
                "RPOCore", "RPOAlignment",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "RPOTests",
            dependencies: ["RPOCore", "RPOAlignment", "RPOTools"],
            path: "Tests/RPOTests"
        ),
    ] + tools.map { name in
        .executableTarget(
            name: name,
            dependencies: ["RPOCore", "RPOAlignment", "RPOTools",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        )
    } + fuzzTargets.map { name in
        .executableTarget(name: name, dependencies: ["RPOCore", "FuzzDriver"], path: "Fuzz/\(name)")
    } + (fuzzTargets.isEmpty ? [] : [.target(name: "FuzzDriver", path: "Fuzz/FuzzDriver")])
)
