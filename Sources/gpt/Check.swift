// gpt check: every op on every available backend against the scalar reference; exits non-zero on a failure.
import ArgumentParser
import Foundation
import SwiftGPT

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every op on every backend against the scalar reference (NMSE per case).")

    @Option(name: [.short, .long], help: "Only this backend (default: every available one).")
    var backend: String?
    @Option(help: "Only this op: \(OpKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var op: String?
    @Option(name: .short, help: "Only cases whose description contains this text, e.g. 'format=q4_1'.")
    var p: String?
    @Option(name: [.short, .long], help: "CPU threads; 0 = one per physical core.")
    var threads: Int = 0
    @Flag(help: "Print only failures and the summary.")
    var quiet = false

    func validate() throws {
        try FlagCheck.threads(threads)
        if let op, OpKind(rawValue: op) == nil {
            throw ValidationError("unknown op '\(op)'; ops: \(OpKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let registry = BackendRegistry.standard
        let options = BackendOptions(threads: threads)
        var names = registry.availableNames(options)
        if let backend {
            guard let entry = registry.entry(named: backend) else {
                throw BackendError.unknownBackend(backend, known: registry.names)
            }
            names = [entry.name]
        }
        for entry in registry.entries where !names.contains(entry.name) {
            if case .unavailable(let reason) = entry.probe(options) {
                Console.out("skipping \(entry.name): \(reason)\n")
            }
        }
        let cases = OpCase.all.filter { c in
            (op == nil || c.op.rawValue == op) && (p == nil || c.description.contains(p!))
        }
        var passed = 0
        var failed = 0
        var unsupported = 0
        let header = pad("case", 62) + pad("backend", 9) + pad("NMSE", 11) + pad("max", 9) + "result\n"
        Console.out(header)
        for name in names {
            let be = try registry.make(name, options: options)
            for c in cases {
                let r = try OpCheck.run(c, on: be)
                let status = !r.supported ? "NOT SUPPORTED" : r.passed(c) ? "PASS" : "FAIL \(r.problem)"
                if !r.supported { unsupported += 1 } else if r.passed(c) { passed += 1 } else { failed += 1 }
                if !quiet || (r.supported && !r.passed(c)) {
                    let nmse = r.supported ? String(format: "%.2e", r.nmse) : "-"
                    Console.out(pad(c.description, 62) + pad(name, 9) + pad(nmse, 11)
                        + pad(String(format: "%.0e", c.maxNMSE), 9) + status + "\n")
                }
            }
        }
        Console.out("\(passed) passed, \(failed) failed, \(unsupported) not supported\n")
        if failed > 0 { throw ExitCode(1) }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
