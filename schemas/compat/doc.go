// Package compat holds Titan's schema to the one it has published. Readers
// and writers of different releases share every topic, state tables are read
// back from changelogs written by older releases, and the API and SDKs speak
// JSON, so a change to a published message must leave both its binary and
// its JSON form readable in both directions (package schemas, "Versioning").
//
// published.json is the baseline: the FileDescriptorSet of every file under
// schemas/proto/titan as last recorded, written as indented JSON so that a
// change to it reads as a diff in review. Current gathers the same set from
// the descriptors the generated packages register with the Go registry, so
// the check needs neither protoc nor buf. Check compares the two with rules
// modelled on buf's WIRE_JSON category, named as buf names them:
//
//   - a message or enum may not disappear or change its full name
//     (MESSAGE_NO_DELETE, ENUM_NO_DELETE, FILE_SAME_PACKAGE);
//   - a removed field or enum value must leave its number and its name
//     reserved (FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED, ..._NAME_RESERVED,
//     and the ENUM_VALUE_ pair), and a reservation stays
//     (RESERVED_MESSAGE_NO_DELETE, RESERVED_ENUM_NO_DELETE);
//   - a field keeps its name, JSON name, type, cardinality and oneof
//     (FIELD_SAME_*), and an enum value its name (ENUM_VALUE_SAME_NAME).
//
// Some rules come from buf's stricter categories: messages and enums keep
// their full names, because the SDKs and clients' code name them, and any
// change of a field's type breaks, not only a change of wire type, because a
// value read with another width or sign is a silent fault in a changelog
// replayed years later. Adding files, messages, enums, fields, enum values
// and reservations never breaks.
//
// The test in this package runs the check against published.json under
// `make test`. The baseline moves only through Record (`make
// schema-baseline`, which `make generate` runs too): additions are recorded
// freely, a break only when accepted (ACCEPT_BREAKING=1), which DESIGN.md
// allows for messages no release has published and for retiring a package
// version that every producer and table has left.
package compat
