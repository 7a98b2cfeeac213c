import ArgumentParser
import Foundation
import PushService
import Shared

/// How `gateway revoke` reads times and writes revocations for people: ISO-8601 in UTC, one table row per rule.
enum RevocationText {
    /// This machine's clock, in Unix seconds.
    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    /// `now`, Unix seconds, or an ISO-8601 date and time with its zone (`2026-12-06T08:00:00Z`,
    /// `2026-12-06T09:00:00.5+01:00`), as Unix seconds (fractions dropped).
    /// - Throws: a `ValidationError` naming `flag`.
    static func time(_ text: String, now: Int64, flag: String) throws -> Int64 {
        if text == "now" { return now }
        if !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let seconds = Int64(text) { return seconds }
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970.rounded(.down)) }
        }
        throw ValidationError("\(flag): expected now, Unix seconds, or ISO-8601 with a zone like 2026-12-06T08:00:00Z; got \"\(text)\"")
    }

    /// Unix seconds as ISO-8601 in UTC: `2026-12-06T08:00:00Z`.
    static func time(_ seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// One line: what the rule stops and for how long, and why.
    static func describe(_ rule: Revocation, now: Int64) -> String {
        var text = "\(rule.target): "
        switch (rule.target, rule.issuedBefore) {
        case (.device, nil): text += "every token"
        case (.device, let issued?): text += "tokens issued at or before \(time(issued)) (\(issued))"
        case (.key, _): text += "every token signed with it"
        }
        if let until = rule.until {
            text += rule.isLapsed(at: now) ? ", lapsed at \(time(until))" : ", until \(time(until))"
        } else {
            text += ", until lifted"
        }
        return rule.reason.isEmpty ? text : text + " (reason: \(rule.reason))"
    }

    /// The rules as a table for people, sorted by target; lapsed rules are marked in the UNTIL column.
    static func table(_ rules: [Revocation], now: Int64) -> String {
        guard !rules.isEmpty else { return "no revocations" }
        var rows = [["TARGET", "ISSUED-BEFORE", "UNTIL", "REASON", "CREATED"]]
        for rule in RevocationJSON.sorted(rules) {
            let issued = switch (rule.target, rule.issuedBefore) {
            case (.device, nil): "every token"
            case (.device, let seconds?): time(seconds)
            case (.key, _): "-"
            }
            var until = rule.until.map(time) ?? "until lifted"
            if rule.isLapsed(at: now) { until += " (lapsed)" }
            rows.append(["\(rule.target)", issued, until, rule.reason.isEmpty ? "-" : rule.reason, time(rule.createdAt)])
        }
        var table = AdminText.table(rows)
        if rules.contains(where: { $0.isLapsed(at: now) }) {
            table += "\nlapsed rules stop nothing; the next change drops them"
        }
        return table
    }

    /// A line on standard error.
    static func complain(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
