package api

import (
	"embed"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// The dashboard is a page and its assets, built from web/dashboard (make dashboard) and embedded
// here, so the binary serves it with no npm and no network: the page loads nothing from anywhere
// but this server, which its Content-Security-Policy holds it to. It reads the /v1/analytics
// views, so those answer it under the same gates as any client. The page itself passes no gate
// (it holds no shop data), like /openapi.yaml.

//go:embed dashboard
var dashboardFiles embed.FS

// dashboardTypes are the assets served, by extension; any other file is not.
var dashboardTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) dashboard(ctx *fasthttp.RequestCtx, _ []string) {
	s.serveDashboardFile(ctx, "index.html")
}

func (s *Server) dashboardAsset(ctx *fasthttp.RequestCtx, p []string) {
	name := p[0]
	if name == "index.html" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		s.fail(ctx, errNotFound)
		return
	}
	s.serveDashboardFile(ctx, name)
}

func (s *Server) serveDashboardFile(ctx *fasthttp.RequestCtx, name string) {
	ctype, ok := dashboardTypes[path.Ext(name)]
	if !ok {
		s.fail(ctx, errNotFound)
		return
	}
	body, err := dashboardFiles.ReadFile("dashboard/" + name)
	if err != nil {
		s.fail(ctx, errNotFound)
		return
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(ctype)
	ctx.SetBody(body)
}
