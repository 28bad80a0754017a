import EventBus
import Foundation
import Hummingbird

extension Request {
    /// Decodes the JSON body as `T` with EventCodec's strict decoder.
    ///
    /// Guarantees: a body that is not JSON, a field of the wrong JSON type, `null` where a
    /// value is due, or a number that does not fit its field throws 400 `invalid_json`; an
    /// absent required field 400 `missing_field`. The message names the field as the client
    /// wrote it (`items[0].quantity`, see `FieldPath`) and says what was expected, never
    /// Swift's coding path or debug text. Errors other than decoding errors (a body over
    /// the size limit, one a type's `init(from:)` throws) pass through unchanged.
    public func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        let body = try await self.body.collect(upTo: context.maxUploadSize)
        do {
            // The events' own decoder: the same `DecodingError`s as Foundation's, at a
            // fraction of its cost per request.
            return try EventDataDecoder().decode(T.self, from: Array(body.readableBytesView)[...])
        } catch let error as DecodingError {
            throw APIError(decoding: error, bodyIsEmpty: body.readableBytes == 0)
        }
    }
}

extension APIError {
    /// The answer to a body `EventDataDecoder` refused (see `Request.decodeJSON`).
    public init(decoding error: DecodingError, bodyIsEmpty: Bool = false) {
        switch error {
        case .keyNotFound(let key, let context):
            self = .missingField(FieldPath.render(context.codingPath + [key]))
        case .valueNotFound(_, let context) where context.codingPath.isEmpty:
            self = .invalidJSON("the body must be a JSON object, not null")
        case .valueNotFound(_, let context):
            self = .invalidJSON("field '\(FieldPath.render(context.codingPath))' must not be null")
        case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
            self = .invalidJSON("the body must be \(FieldPath.expected(type))")
        case .typeMismatch(let type, let context):
            self = .invalidJSON("field '\(FieldPath.render(context.codingPath))' must be \(FieldPath.expected(type))")
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            // EventCodec says this only of a value of the right JSON type that its Swift type
            // cannot hold: a number out of range or not whole, a malformed date, UUID, URL.
            self = .invalidJSON(
                "field '\(FieldPath.render(context.codingPath))' holds a value that does not fit: a number out of range or not whole, or text not of the expected form")
        default:
            self = .invalidJSON(bodyIsEmpty ? "the body is empty; it must be a JSON object" : "the body is not valid JSON")
        }
    }
}

/// A field's name as the client wrote it in JSON: members joined with dots, array
/// indexes in brackets (`items[0].quantity`), never Swift's `Index 0`.
public enum FieldPath {
    public static func render(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                text += "[\(index)]"
            } else {
                if !text.isEmpty { text += "." }
                text += key.stringValue
            }
        }
        return text
    }

    /// The JSON a Swift type is read from, for messages: "a string", "an integer", ...
    static func expected(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type, is Character.Type: "a string"
        case is Bool.Type: "true or false"
        case is any FixedWidthInteger.Type: "an integer"
        case is any BinaryFloatingPoint.Type, is Decimal.Type: "a number"
        case is Date.Type: "an RFC 3339 date string"
        case is UUID.Type: "a UUID string"
        case is URL.Type: "a URL string"
        case is Data.Type: "a base64 string"
        case is [String: Any].Type: "an object"
        case is [Any].Type: "an array"
        default: "of another JSON type"
        }
    }
}
