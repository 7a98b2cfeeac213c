import Foundation

/// The files of the browser demo (`clients/js/demo/`) and the JavaScript client (`clients/js/channel-client.js`),
/// read once at start so that serving them never touches the disk on an event loop.
///
/// Guarantees: only these files are ever served, by fixed URL paths; nothing from the request names a file.
struct DemoSite: Sendable {
    struct File: Sendable {
        var contentType: String
        var bytes: [UInt8]
    }

    /// URL path → file.
    let files: [String: File]
    /// The `clients/js` directory the files came from.
    let directory: String

    private static let layout: [(path: String, file: String, type: String)] = [
        ("/", "demo/index.html", "text/html; charset=utf-8"),
        ("/demo.js", "demo/demo.js", "text/javascript; charset=utf-8"),
        ("/demo.css", "demo/demo.css", "text/css; charset=utf-8"),
        ("/channel-client.js", "channel-client.js", "text/javascript; charset=utf-8"),
    ]

    /// Reads the files from `directory`, or from the `clients/js` found above this executable or the working
    /// directory (a checkout running its own build).
    /// - Throws: ``DemoSiteError`` naming what is missing.
    static func load(directory: String?) throws -> DemoSite {
        guard let directory = directory ?? locate() else { throw DemoSiteError.notFound }
        var files: [String: File] = [:]
        for entry in layout {
            let path = (directory as NSString).appendingPathComponent(entry.file)
            guard let data = FileManager.default.contents(atPath: path) else { throw DemoSiteError.missing(path) }
            files[entry.path] = File(contentType: entry.type, bytes: Array(data))
        }
        return DemoSite(files: files, directory: directory)
    }

    /// Walks up from the executable (`.build/debug/gateway`) and from the working directory to a `clients/js` that
    /// holds the client.
    private static func locate() -> String? {
        let starts = [(CommandLine.executablePath as NSString).deletingLastPathComponent, FileManager.default.currentDirectoryPath]
        for start in starts {
            var dir = start
            while dir != "/" && !dir.isEmpty {
                let candidate = (dir as NSString).appendingPathComponent("clients/js")
                if FileManager.default.fileExists(atPath: (candidate as NSString).appendingPathComponent("channel-client.js")) {
                    return candidate
                }
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        return nil
    }
}

enum DemoSiteError: Error, CustomStringConvertible {
    case notFound
    case missing(String)

    var description: String {
        switch self {
        case .notFound: "no clients/js directory above the gateway executable or the working directory; pass --demo-dir, or --no-demo"
        case .missing(let path): "demo file missing: \(path)"
        }
    }
}
