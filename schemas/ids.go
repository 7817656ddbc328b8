package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ids (command ids, order ids, SKUs, user ids, idempotency keys, ...) become
// record keys, table keys, URL path segments and log fields, and some are
// compared by people reading a dead letter. One rule holds for all of them,
// here, so the API, the SDK and every processor accept exactly the same
// set.

// MaxIDBytes bounds every id; SKUs share the bound (MaxSKUBytes).
const (
	MaxIDBytes  = 128
	MaxSKUBytes = MaxIDBytes
)

// ReservedPrefix starts every id Titan derives for itself: the order saga's
// inventory commands and price checks, a flash sale's allocation, the
// expiry sweeper's and the price ticker's commands. No client id may start
// with it, so no client can name, repeat or touch what Titan does on its own
// behalf.
const ReservedPrefix = "titan:"

// The reasons the id rule reports besides the missing and too_long ones.
const (
	// ReasonInvalidID: not valid UTF-8, a character that is not printable
	// (control, zero-width, bidi override, line separator, ...), or "." or
	// "..".
	ReasonInvalidID Reason = "invalid_id"
	// ReasonReservedID: the id starts with ReservedPrefix.
	ReasonReservedID Reason = "reserved_id"
)

// ValidID reports whether id may be used as an id: 1 to MaxIDBytes bytes of
// UTF-8, every character printable (unicode.IsPrint: letters, marks,
// numbers, punctuation, symbols and the ASCII space; no control, format,
// separator or private-use character), and neither "." nor "..", which
// mean something else in a path.
//
// Format characters are excluded because they make two ids that render
// alike compare different (a zero-width space) or render one id as another
// (a right-to-left override), which is how an operator reading a dead
// letter or a log is misled.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDBytes || id == "." || id == ".." || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Reserved reports whether id is in Titan's own namespace.
func Reserved(id string) bool { return strings.HasPrefix(id, ReservedPrefix) }

// CheckID applies the id rule to one field: missing when empty, too_long past
// MaxIDBytes, malformed (ReasonInvalidID) otherwise.
func CheckID(field, id string, missing Reason) error {
	return checkIDAs(field, id, missing, ReasonInvalidID)
}

// CheckClientID is CheckID for an id a client chose: it must also stay out of
// Titan's namespace.
func CheckClientID(field, id string, missing Reason) error {
	if err := CheckID(field, id, missing); err != nil {
		return err
	}
	return RefuseReserved(field, id)
}

// RefuseReserved reports ReasonReservedID for an id in Titan's namespace,
// whatever else is wrong with it.
func RefuseReserved(field, id string) error {
	if Reserved(id) {
		return invalid(field, ReasonReservedID)
	}
	return nil
}

// CheckOptionalID applies the id rule to a field that may be left empty.
func CheckOptionalID(field, id string) error {
	if id == "" {
		return nil
	}
	return CheckID(field, id, "")
}

// CheckSKU applies the id rule to a SKU, reporting ReasonInvalidSKU for a
// malformed one, as dead letters always have.
func CheckSKU(field, sku string) error {
	return checkIDAs(field, sku, ReasonMissingSKU, ReasonInvalidSKU)
}

func checkIDAs(field, id string, missing, malformed Reason) error {
	switch {
	case id == "":
		return invalid(field, missing)
	case len(id) > MaxIDBytes:
		return invalid(field, ReasonTooLong)
	case !ValidID(id):
		return invalid(field, malformed)
	}
	return nil
}

// DerivedPrefix starts every id a producer SDK derives from its caller's
// idempotency key (DeriveID). The SDK refuses it at the start of an id its
// caller chooses, so no id a caller names can equal one the SDK derived for
// another record; producers outside the SDK should keep out of it too.
// Unlike ReservedPrefix it is a client's namespace: processors accept it on
// public topics, since they cannot tell the SDK from another client.
const DerivedPrefix = "sdk:"

// The two forms of a derived id: the key itself when it fits, its digest
// when it does not. Their prefixes differ, so a key that spells a digest
// cannot meet the digest of a longer key.
const (
	derivedKey    = DerivedPrefix + "k:"
	derivedDigest = DerivedPrefix + "h:"
)

// ReasonDerivedID: a caller-chosen id starts with DerivedPrefix.
const ReasonDerivedID Reason = "derived_id"

// DeriveID is the id of the record a caller names by idempotency key:
// "sdk:k:<key>", or "sdk:h:<hex sha-256 of key>" when that would pass
// MaxIDBytes. The same key always gives the same id, so a retried send is
// the same record to the processor, and the id is readable in dead letters
// and logs whenever the key is short. key must satisfy CheckClientID; the
// result then satisfies it too.
func DeriveID(key string) string {
	if len(derivedKey)+len(key) <= MaxIDBytes {
		return derivedKey + key
	}
	sum := sha256.Sum256([]byte(key))
	return derivedDigest + hex.EncodeToString(sum[:])
}

// Derived reports whether id is in the namespace of derived ids.
func Derived(id string) bool { return strings.HasPrefix(id, DerivedPrefix) }

// RefuseDerived reports ReasonDerivedID for a caller-chosen id in the
// namespace of derived ids.
func RefuseDerived(field, id string) error {
	if Derived(id) {
		return invalid(field, ReasonDerivedID)
	}
	return nil
}
