// gpt-fuzz: the coverage-guided fuzzer of FuzzTargets (libFuzzer), and the replay of saved inputs.
//   make fuzz FUZZ_TARGET=gguf [FUZZ_SECONDS=60]   build with -sanitize=fuzzer,address -DFUZZING and fuzz
//   gpt-fuzz TARGET FILE|FOLDER...                 (a normal build) run saved inputs once each
// Built with FUZZING, the binary is a libFuzzer driver: the target is $GPT_FUZZ_TARGET and the arguments are
// libFuzzer's (corpus folders, -max_total_time, ...). Swift on Linux names an executable's entry point
// `gpt_fuzz_main` and links `main` to it, so `main` below starts libFuzzer itself (LLVMFuzzerRunDriver).
import Foundation
import FuzzTargets

#if FUZZING
    nonisolated(unsafe) let fuzzTarget: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["GPT_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(
                "set GPT_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n"
                    .data(using: .utf8)!)
            exit(2)
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        fuzzTarget.run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }

    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
#endif

@main
struct GPTFuzz {
    static func main() {
        #if FUZZING
            _ = fuzzTarget
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
        #else
            let args = Array(CommandLine.arguments.dropFirst())
            guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count > 1 else {
                print("usage: gpt-fuzz TARGET FILE|FOLDER... (targets: "
                      + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                exit(2)
            }
            var count = 0
            for path in args.dropFirst() {
                for file in files(path) {
                    target.run(Array(FileManager.default.contents(atPath: file) ?? Data()))
                    count += 1
                }
            }
            print("\(target.rawValue): \(count) inputs ran without a finding")
        #endif
    }

    static func files(_ path: String) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return [path]
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }
    }
}
