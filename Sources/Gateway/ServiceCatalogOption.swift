import ArgumentParser
import Foundation
import Shared

/// The services an edge offers and the API sends for: `--services-file` (or `CG_SERVICES_FILE`) when set, which wins,
/// else the comma-separated `--services` names, each with its default topic. Edges and the API read them alike.
enum ServiceCatalogOption {
    /// The names of `--services`, without spaces and empty entries.
    static func names(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// - Throws: a `ValidationError` when the file cannot be read or is invalid.
    static func catalog(file: String?, names list: String, topics: Topics) throws -> ServiceCatalog {
        guard let file = file ?? env("CG_SERVICES_FILE") else { return ServiceCatalog(names: names(list), topics: topics) }
        do { return try ServiceCatalog.load(file: file, topics: topics) } catch {
            throw ValidationError("\(error)")
        }
    }
}
