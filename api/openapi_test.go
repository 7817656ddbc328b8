package api

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The OpenAPI document's routes are read with a small line parser: the
// document's layout (two-space indents, one key per line under paths) is
// what the parser relies on and what a reviewer sees. TestOpenAPIParses
// checks the whole document with a YAML parser.

// operation is one path+method of the document.
type operation struct {
	path, method, operationID string
	security                  string
	hasBody                   bool
	responses                 []string
}

func (o operation) key() string { return strings.ToUpper(o.method) + " " + o.path }

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// parseOperations reads the operations under the top-level paths key.
func parseOperations(t *testing.T, doc []byte) []operation {
	t.Helper()
	var (
		ops         []operation
		inPaths     bool
		path        string
		cur         *operation
		inResponses bool
	)
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if indent == 0 {
			inPaths = trimmed == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		key, value, _ := strings.Cut(trimmed, ":")
		key = strings.Trim(key, `"'`)
		value = strings.TrimSpace(value)
		switch {
		case indent == 2:
			path, cur = key, nil
		case indent == 4 && slices.Contains(httpMethods, key):
			ops = append(ops, operation{path: path, method: key})
			cur, inResponses = &ops[len(ops)-1], false
		case indent == 4:
			cur = nil
		case cur == nil:
		case indent == 6:
			inResponses = key == "responses"
			switch key {
			case "operationId":
				cur.operationID = strings.Trim(value, `"'`)
			case "requestBody":
				cur.hasBody = true
			case "security":
				cur.security = value
			}
		case indent == 8 && inResponses:
			cur.responses = append(cur.responses, key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatal("no operations found under paths: the parser no longer fits the document")
	}
	return ops
}

var errorEnum = regexp.MustCompile(`(?s)\n    Error:\n.*?code:.*?enum: \[(.*?)\]`)

// parseErrorCodes reads the enum of components.schemas.Error.code.
func parseErrorCodes(t *testing.T, doc []byte) []string {
	t.Helper()
	m := errorEnum.FindSubmatch(doc)
	if m == nil {
		t.Fatal("no enum under components.schemas.Error.code")
	}
	var codes []string
	for _, c := range strings.Split(string(m[1]), ",") {
		codes = append(codes, strings.TrimSpace(c))
	}
	return codes
}

func readOpenAPI(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, openapiYAML) {
		t.Fatal("the embedded openapi.yaml differs from the file")
	}
	return doc
}

// TestOpenAPIMatchesRoutes fails when a route has no operation in the
// document, an operation has no route, or their names differ.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	ops := parseOperations(t, readOpenAPI(t))
	documented := map[string]operation{}
	for _, op := range ops {
		if _, dup := documented[op.key()]; dup {
			t.Errorf("%s documented twice", op.key())
		}
		documented[op.key()] = op
	}
	served := map[string]bool{}
	names := map[string]bool{}
	for _, r := range newRoutes() {
		k := r.method + " " + r.pattern
		served[k] = true
		if names[r.name] {
			t.Errorf("route name %q used twice", r.name)
		}
		names[r.name] = true
		op, ok := documented[k]
		switch {
		case !ok:
			t.Errorf("route %s (%s) is not in openapi.yaml", k, r.name)
		case op.operationID != r.name:
			t.Errorf("%s: operationId %q, route name %q", k, op.operationID, r.name)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("openapi.yaml documents %s, which no route serves", k)
		}
	}
}

// TestOpenAPIDocumentsBodyErrors: every operation that takes a body can
// answer 400 for a bad one and 413 for one over MaxBodyBytes.
func TestOpenAPIDocumentsBodyErrors(t *testing.T) {
	for _, op := range parseOperations(t, readOpenAPI(t)) {
		if !op.hasBody {
			continue
		}
		for _, status := range []string{"400", "413"} {
			if !slices.Contains(op.responses, status) {
				t.Errorf("%s (%s) takes a body but does not document %s", op.key(), op.operationID, status)
			}
		}
	}
}

// TestOpenAPIDocumentsAccess: every operation says what Access asks of it
// (security, and the 401, 403 and 421 of its gates; 415 for commands) and
// documents the answers any request can get before routing.
func TestOpenAPIDocumentsAccess(t *testing.T) {
	ops := map[string]operation{}
	for _, op := range parseOperations(t, readOpenAPI(t)) {
		ops[op.key()] = op
	}
	for _, r := range newRoutes() {
		op, ok := ops[r.method+" "+r.pattern]
		if !ok {
			continue // TestOpenAPIMatchesRoutes reports it
		}
		want := []string{"405", "408", "414", "431"}
		security := "[{}, {bearer: []}]"
		switch {
		case r.open:
			security = "[]"
		case r.method == "POST":
			security = "[{bearer: []}]"
			want = append(want, "401", "403", "415", "421")
		default:
			want = append(want, "401", "403", "421")
		}
		if op.security != security {
			t.Errorf("%s: security %q, want %q", op.key(), op.security, security)
		}
		for _, status := range want {
			if !slices.Contains(op.responses, status) {
				t.Errorf("%s does not document %s", op.key(), status)
			}
		}
		if r.open && slices.Contains(op.responses, "401") {
			t.Errorf("%s is open, yet documents 401", op.key())
		}
	}
}

// TestCatalogue: codes are distinct, statuses are errors, and the OpenAPI
// Error enum lists exactly the catalogue's codes.
func TestCatalogue(t *testing.T) {
	codeShape := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[Code]bool{}
	for _, e := range catalogue {
		if seen[e.Code] {
			t.Errorf("code %q appears twice", e.Code)
		}
		seen[e.Code] = true
		if !codeShape.MatchString(string(e.Code)) {
			t.Errorf("code %q is not lower_snake_case", e.Code)
		}
		if e.status < 400 || e.status > 599 {
			t.Errorf("%s: status %d is not an error status", e.Code, e.status)
		}
		if e.Message == "" {
			t.Errorf("%s: no message", e.Code)
		}
	}
	enum := parseErrorCodes(t, readOpenAPI(t))
	for _, c := range enum {
		if !seen[Code(c)] {
			t.Errorf("openapi.yaml lists code %q, which the catalogue does not have", c)
		}
	}
	for _, e := range catalogue {
		if !slices.Contains(enum, string(e.Code)) {
			t.Errorf("code %q is missing from the Error enum of openapi.yaml", e.Code)
		}
	}
}

// TestOpenAPIParses reads the document with a YAML parser: the line parser
// above checks its routes, not that a client's tooling can load it (an
// unquoted description with a comma or a bracket inside a flow mapping
// silently splits or breaks it).
func TestOpenAPIParses(t *testing.T) {
	var doc struct {
		OpenAPI string         `yaml:"openapi"`
		Paths   map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		t.Fatalf("openapi.yaml is not valid YAML: %v", err)
	}
	if doc.OpenAPI == "" || len(doc.Paths) != len(parseOperationsPaths(t)) {
		t.Fatalf("openapi %q with %d paths; the line parser finds %d", doc.OpenAPI, len(doc.Paths), len(parseOperationsPaths(t)))
	}
}

func parseOperationsPaths(t *testing.T) map[string]bool {
	paths := map[string]bool{}
	for _, op := range parseOperations(t, openapiYAML) {
		paths[op.path] = true
	}
	return paths
}
