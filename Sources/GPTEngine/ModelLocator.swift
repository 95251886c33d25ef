// ModelLocator: where SwiftGPT looks for models when --model is not given.
import Foundation

public enum ModelLocator {
    /// The default model's file name (SmolLM2-135M-Instruct, Q4_1), as the Makefile fetches it.
    public static let defaultModelName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$XDG_CACHE_HOME/swiftgpt/models` or `~/.cache/swiftgpt/models`.
    public static var cacheFolder: String {
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/swiftgpt/models" }
        let home = env["HOME"] ?? NSHomeDirectory()
        return home + "/.cache/swiftgpt/models"
    }

    /// `$GPT_MODEL` when set, else the default model in the cache folder.
    public static var defaultModelPath: String {
        if let path = ProcessInfo.processInfo.environment["GPT_MODEL"], !path.isEmpty { return path }
        return cacheFolder + "/" + defaultModelName
    }
}
