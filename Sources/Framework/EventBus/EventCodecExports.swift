// The codec types that users of the bus name in their own code (a `DomainEvent`'s custom
// `decode(from:version:)`, timestamps as RFC 3339) come with `import EventBus`; the rest of
// EventCodec stays behind its own import.
@_exported import enum EventCodec.RFC3339
@_exported import struct EventCodec.EventDataDecoder
@_exported import struct EventCodec.EventDataEncoder
