// The fuzzer's committed inputs as regression tests: every seed (Fuzz/corpus/<target>/, scripts/fuzz-seeds.py) and
// every input that once crashed or broke an invariant (Fuzz/regressions/<target>/) runs through its FuzzTarget. A
// finding traps the test process, so a regression fails the run loudly.
import Foundation
import FuzzTargets
import Testing

@Suite("Fuzz corpus and regressions")
struct FuzzRegressionTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz").path

    static func inputs(_ target: FuzzTarget) -> [String] {
        ["corpus", "regressions"].flatMap { kind -> [String] in
            let folder = "\(fuzzFolder)/\(kind)/\(target.rawValue)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
        }
    }

    @Test("every committed input runs through its target without a finding", arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) throws {
        let files = Self.inputs(target)
        #expect(!files.isEmpty, "no seeds for \(target): run scripts/fuzz-seeds.py")
        for file in files { target.run(Array(try Data(contentsOf: URL(fileURLWithPath: file)))) }
    }
}
