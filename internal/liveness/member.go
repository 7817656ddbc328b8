package liveness

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
)

// Peer is one instance as its group members announce it.
type Peer struct {
	// Incarnation names one run of the instance.
	Incarnation string
	// Addr is where its beacon listens, host:port.
	Addr string
}

// memberMagic starts the metadata, so that members of other programs
// sharing a group are told apart from Titan's.
const memberMagic = "titan-liveness/1"

// greeting is what a beacon writes first on every connection, before
// the incarnation and a newline.
const greeting = "titan-beacon/1 "

// maxMemberData bounds what is decoded from a member's metadata.
const maxMemberData = 512

// newIncarnation returns a fresh random incarnation.
func newIncarnation() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// MemberData is the consumer-group member metadata that announces p.
func MemberData(p Peer) []byte {
	return []byte(memberMagic + "\n" + p.Incarnation + "\n" + p.Addr)
}

// ParseMemberData reads what MemberData wrote; ok is false for anything
// else (another program's metadata, none at all).
func ParseMemberData(b []byte) (p Peer, ok bool) {
	if len(b) > maxMemberData {
		return Peer{}, false
	}
	parts := bytes.Split(b, []byte("\n"))
	if len(parts) != 3 || string(parts[0]) != memberMagic {
		return Peer{}, false
	}
	p = Peer{Incarnation: string(parts[1]), Addr: string(parts[2])}
	if err := p.validate(); err != nil {
		return Peer{}, false
	}
	return p, true
}

func (p Peer) validate() error {
	if len(p.Incarnation) != 32 {
		return fmt.Errorf("liveness: incarnation %q is not 32 hex digits", p.Incarnation)
	}
	if _, err := hex.DecodeString(p.Incarnation); err != nil {
		return fmt.Errorf("liveness: incarnation %q is not 32 hex digits", p.Incarnation)
	}
	host, port, err := net.SplitHostPort(p.Addr)
	if err != nil || host == "" || port == "" || port == "0" {
		return fmt.Errorf("liveness: beacon address %q is not host:port", p.Addr)
	}
	return nil
}
