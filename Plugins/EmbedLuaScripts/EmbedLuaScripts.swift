import Foundation
import PackagePlugin

/// Embeds a target's Lua scripts at build time: every `.lua` file under the target's
/// directory (its scripts, and the shared parts in `includes/` folders) goes to `lua-embed`,
/// which writes `LuaScripts.swift` (one `RedisScript` per script) into the build. Nothing is
/// read at run time, so the binaries need no resource files.
@main
struct EmbedLuaScripts: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let root = target.directoryURL
        var files: [URL] = []
        if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "lua" { files.append(url) }
        }
        files.sort { $0.path < $1.path }
        guard !files.isEmpty else { return [] }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("LuaScripts.swift")
        return [
            .buildCommand(
                displayName: "Embedding the Lua scripts of \(target.name)",
                executable: try context.tool(named: "lua-embed").url,
                arguments: [output.path, target.name, root.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
