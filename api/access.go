package api

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net"
	"strings"

	"github.com/valyala/fasthttp"
)

// Access is who may use the API, and under which names. The zero value is
// an API open to anyone who can reach it, as a local `make run` wants.
//
// Every /v1 request passes three gates before its endpoint sees it, in
// this order, and a refused request sends nothing to Kafka:
//
//  1. Host: with AllowedHosts set, a Host not in it is answered 421. This
//     is what stops DNS rebinding, where a web page's own name is pointed
//     at Titan's address so the browser treats Titan as the page's origin
//     and lets the page read the answers.
//  2. Token: with Tokens set, a command (every POST) needs a bearer token
//     with the command scope, and with ReadAuth a read (GET) needs one
//     with the read scope; admin grants every scope. 401 without a known
//     token, 403 with one that lacks the scope.
//  3. Content type: a command needs Content-Type: application/json, also
//     with an empty body. A browser sends a form (urlencoded, multipart,
//     text/plain) and a POST without a body or a Content-Type to any site
//     without asking first; no such request can reach a command.
//
// The probes (/healthz, /readyz), /metrics and /openapi.yaml pass no gate:
// kubelets, load balancers and Prometheus call them by address, with no
// token and whatever Host they like, and they carry no shop data.
type Access struct {
	// Tokens are the bearer tokens commands (and, with ReadAuth, reads)
	// need. Nil leaves the API open to anyone who can reach it.
	Tokens *Tokens
	// ReadAuth makes reads need a token with the read scope; it needs
	// Tokens.
	ReadAuth bool
	// AllowedHosts are the host names (or IP addresses) requests may name
	// in their Host header, compared without case and without the port:
	// a DNS-rebinding page chooses the name, not the port, and a load
	// balancer may forward to any port. Empty allows any Host.
	AllowedHosts []string
}

// Validate reports what cannot work.
func (a Access) Validate() error {
	var errs []error
	if a.ReadAuth && a.Tokens == nil {
		errs = append(errs, errors.New("api: read auth needs a tokens file"))
	}
	for _, h := range a.AllowedHosts {
		if err := checkAllowedHost(h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkAllowedHost accepts a DNS name or an IP address (an IPv6 one with
// or without brackets), without a port.
func checkAllowedHost(h string) error {
	name := strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if net.ParseIP(name) != nil {
		return nil
	}
	if strings.Contains(h, ":") {
		return fmt.Errorf("api: allowed host %q: give the name without a port; the port is not compared", h)
	}
	if name == "" || len(name) > 253 {
		return fmt.Errorf("api: allowed host %q is not a host name", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("api: allowed host %q is not a host name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("api: allowed host %q is not a host name", h)
			}
		}
	}
	return nil
}

// hostName is the name part of a Host value, the form allowed hosts are
// kept in: lower case, no port, no brackets, no trailing dot.
func hostName(host string) string {
	name := host
	if strings.HasPrefix(name, "[") {
		if end := strings.IndexByte(name, ']'); end > 0 {
			name = name[1:end]
		}
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 && strings.Count(name, ":") == 1 {
		name = name[:i]
	}
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

func hostSet(hosts []string) map[string]bool {
	if len(hosts) == 0 {
		return nil
	}
	set := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		set[hostName(strings.Trim(h, "[]"))] = true
	}
	return set
}

// admit runs the gates for route r and writes the refusal itself; it
// reports whether the request may go on to the endpoint.
func (s *Server) admit(ctx *fasthttp.RequestCtx, r *route) bool {
	if r.open {
		return true
	}
	if !s.hostAllowed(ctx) {
		s.fail(ctx, errHostNotAllowed)
		return false
	}
	need := scopeRead
	if r.method == fasthttp.MethodPost {
		need = scopeCommand
	}
	if s.opts.Access.Tokens != nil && (need == scopeCommand || s.opts.Access.ReadAuth) && !s.authorized(ctx, need) {
		return false
	}
	if need == scopeCommand && !jsonContentType(ctx.Request.Header.ContentType()) {
		s.fail(ctx, errUnsupportedMedia)
		return false
	}
	return true
}

// hostAllowed checks the Host header and, for a request in absolute form
// (POST http://name/...), the name in the request line, which HTTP says
// wins over the header: both must be allowed.
func (s *Server) hostAllowed(ctx *fasthttp.RequestCtx) bool {
	if s.hosts == nil {
		return true
	}
	if !s.hosts[hostName(string(ctx.Request.Header.Host()))] {
		return false
	}
	uriHost := ctx.URI().Host()
	return len(uriHost) == 0 || s.hosts[hostName(string(uriHost))]
}

// authorized checks the request's bearer token for need, answering 401 or
// 403 itself when it falls short. The WWW-Authenticate header follows RFC
// 6750, so a client library knows what to do.
func (s *Server) authorized(ctx *fasthttp.RequestCtx, need scope) bool {
	token, ok := bearerToken(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="titan"`)
		s.fail(ctx, errUnauthorized)
		return false
	}
	granted := s.opts.Access.Tokens.scopesOf(token)
	switch {
	case granted == 0:
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="titan", error="invalid_token"`)
		s.fail(ctx, errUnauthorized)
		return false
	case granted&need == 0:
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, `Bearer realm="titan", error="insufficient_scope", scope="`+need.String()+`"`)
		s.fail(ctx, errForbidden)
		return false
	}
	return true
}

// bearerToken is the token of an Authorization: Bearer header; the scheme
// is compared without case (RFC 9110).
func bearerToken(h []byte) ([]byte, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil, false
	}
	token := bytes.TrimLeft(h[len(scheme):], " ")
	return token, len(token) > 0
}

// jsonContentType accepts application/json with any parameters but a
// charset other than UTF-8, the only encoding JSON has (RFC 8259).
func jsonContentType(ct []byte) bool {
	if len(ct) == 0 {
		return false
	}
	mt, params, err := mime.ParseMediaType(string(ct))
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}
