// swift-tools-version:6.0
// SwiftGPT: GPT-style decoder transformers on Linux, with hand-written C kernels and pluggable backends.
import Foundation
import PackageDescription

// MARK: - C and system libraries

/// Swift's own clang compiles `-fopenmp` but ships no `omp.h`; Debian's libomp-dev (LLVM 14 or later) has the
/// header and the runtime. Find them when the manifest is evaluated instead of hard-coding one LLVM version.
func openMPPaths() -> (include: String, lib: String)? {
    let fm = FileManager.default
    guard let llvms = try? fm.contentsOfDirectory(atPath: "/usr/lib") else { return nil }
    for llvm in llvms.filter({ $0.hasPrefix("llvm-") }).sorted().reversed() {
        let clangDir = "/usr/lib/\(llvm)/lib/clang"
        for version in (try? fm.contentsOfDirectory(atPath: clangDir)) ?? [] {
            let include = "\(clangDir)/\(version)/include"
            if fm.fileExists(atPath: "\(include)/omp.h") { return (include, "/usr/lib/\(llvm)/lib") }
        }
    }
    return nil
}

let omp = openMPPaths()
let ompCFlags: [String] = omp.map { ["-fopenmp", "-I\($0.include)"] } ?? []
let ompLinker: [LinkerSetting] =
    omp.map {
        [
            .unsafeFlags(["-L\($0.lib)", "-Xlinker", "-rpath", "-Xlinker", $0.lib]),
            .linkedLibrary("omp"),
        ]
    } ?? []

// MARK: - Package

let package = Package(
    name: "SwiftGPT",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SwiftGPT", targets: ["SwiftGPT"]),
        .executable(name: "gpt", targets: ["gpt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        // MARK: - Public API
        .target(name: "GPTCore"),
        .target(name: "GGUF", dependencies: ["GPTCore"]),
        .target(name: "Tokenization", dependencies: ["GGUF"]),
        .target(name: "GPTEngine", dependencies: ["GPTCore", "GGUF", "Tokenization", "CKernels"]),
        .target(name: "SafeTensors", dependencies: ["GPTCore"]),
        .target(name: "HFCheckpoint", dependencies: ["GPTCore", "GGUF", "Tokenization", "GPTEngine", "SafeTensors", "CKernels"]),
        .target(name: "Quantization", dependencies: ["GPTCore", "GGUF", "GPTEngine", "HFCheckpoint", "CKernels"]),
        .target(
            name: "SwiftGPT",
            dependencies: ["GPTCore", "GGUF", "Tokenization", "GPTEngine", "AllBackends", "OpCheck", "Profiling", "Visualization",
                           "SafeTensors", "HFCheckpoint", "Quantization"]),

        // MARK: - Backends
        .target(
            name: "CKernels",
            path: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-ffp-contract=fast", "-fno-math-errno"] + ompCFlags)],
            linkerSettings: ompLinker + [.linkedLibrary("m")]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "COpenCL", providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CReadline", providers: [.apt(["libreadline-dev"])]),
        .target(name: "BackendOpenMP", dependencies: ["GPTCore", "CKernels"]),
        .target(name: "BackendBLAS", dependencies: ["GPTCore", "CKernels", "COpenBLAS", "BackendOpenMP"]),
        .target(
            name: "BackendOpenCL",
            dependencies: ["GPTCore", "COpenCL"],
            resources: ["common", "embedding", "matmul", "norm", "rope", "elementwise", "attention"].map {
                .embedInCode("Kernels/\($0).cl")
            }),
        .target(name: "AllBackends", dependencies: ["GPTCore", "BackendOpenMP", "BackendBLAS", "BackendOpenCL"]),
        .target(name: "OpCheck", dependencies: ["GPTCore", "CKernels", "AllBackends"]),
        .target(name: "Profiling", dependencies: ["GPTCore", "CKernels"]),
        .target(name: "Visualization", dependencies: ["CZlib"]),

        // MARK: - Server
        /// `gpt serve`: the OpenAI-compatible HTTP layer (Hummingbird) over the continuous-batching scheduler.
        .target(
            name: "GPTServer",
            dependencies: [
                "GPTEngine", "Tokenization", "GPTCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // MARK: - Command-line tool
        .executableTarget(
            name: "gpt",
            dependencies: ["SwiftGPT", "CReadline", "GPTServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: - Fuzzing (`make fuzz`; a normal build gives the replay tool)
        .target(name: "FuzzTargets", dependencies: ["SwiftGPT"]),
        .executableTarget(name: "gpt-fuzz", dependencies: ["FuzzTargets"]),

        // MARK: - Tests
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "GPTCore"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "GGUF"], resources: [.copy("Golden")]),
        .testTarget(name: "BackendOpsTests", dependencies: ["OpCheck", "AllBackends", "GPTCore", "CKernels"]),
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels", "GPTCore", "OpCheck"], resources: [.copy("Golden")]),
        .testTarget(name: "CLITests"),
        .testTarget(name: "GPTEngineTests", dependencies: ["GPTEngine"]),
        .testTarget(name: "GPTServerTests", dependencies: ["GPTServer", "GPTEngine", "Tokenization"]),
        .testTarget(
            name: "EndToEndTests", dependencies: ["SwiftGPT"], resources: [.copy("Golden")]),
        .testTarget(name: "OpenCLTests", dependencies: ["BackendOpenCL", "GPTCore", "CKernels"]),
        .testTarget(name: "GPT2Tests", dependencies: ["SwiftGPT", "SafeTensors", "HFCheckpoint", "FuzzTargets"], resources: [.copy("Resources")]),
    ]
)
