// swift-tools-version:6.1
// SwiftGPT kernel micro-benchmarks (ordo-one/benchmark). A package of its own, so that building or testing the root
// package (CI) never builds ordo-one/benchmark and its dependencies. Run from this folder:
//   swift package --allow-writing-to-package-directory benchmark
// See README.md in this folder.
import PackageDescription

let package = Package(
    name: "SwiftGPTBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        // The package copy on the development machines is 1.38.1. Naming the trait keeps only the malloc
        // interposer: its default trait set would also pull swift-runtime-interposer (Linux, Swift 6.3).
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "SwiftGPT", path: ".."),
    ],
    targets: [
        // The plugin finds benchmark targets by their folder: Benchmarks/<Target>/.
        .executableTarget(
            name: "Kernels",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwiftGPT", package: "SwiftGPT"),
            ],
            path: "Benchmarks/Kernels",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
