package api

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// The hot reads write their bodies with append functions instead of
// encoding/json, which finds every field by reflection on every call. Each
// appendJSON writes what json.Marshal writes for the same value, byte for
// byte; jsonwrite_test.go holds them to it.

// jsonAppender is a body that writes itself; writeJSON takes that way for
// it.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// writeJSONBody is writeJSON for a body already encoded; SetBody copies
// it, so the caller may build it in a buffer of its own stack.
func writeJSONBody(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string as encoding/json does: HTML
// characters and U+2028/U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONField appends `"name":` after a comma unless it opens the
// object; name is a plain ASCII literal of this package.
func appendJSONField(b []byte, name string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendJSONInt(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(appendJSONField(b, name), v, 10)
}

func appendJSONStringField(b []byte, name, v string) []byte {
	return appendJSONString(appendJSONField(b, name), v)
}

func appendJSONBool(b []byte, name string, v bool) []byte {
	return strconv.AppendBool(appendJSONField(b, name), v)
}

func (v stockJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendJSONStringField(b, "sku", v.SKU)
	b = appendJSONInt(b, "on_hand", v.OnHand)
	b = appendJSONInt(b, "reserved", v.Reserved)
	b = appendJSONInt(b, "available", v.Available)
	b = appendJSONInt(b, "sold", v.Sold)
	b = appendJSONInt(b, "offset", v.Offset)
	return append(b, '}')
}

func (v purchaseJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendJSONStringField(b, "status", v.Status)
	b = appendJSONStringField(b, "reason", v.Reason)
	b = appendJSONStringField(b, "sale_id", v.SaleID)
	b = appendJSONStringField(b, "user_id", v.UserID)
	b = appendJSONInt(b, "qty", v.Qty)
	b = appendJSONStringField(b, "idempotency_key", v.IdempotencyKey)
	b = appendJSONInt(b, "price", v.Price)
	b = appendJSONInt(b, "bucket", int64(v.Bucket))
	return append(b, '}')
}

func (v flashSaleJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendJSONStringField(b, "id", v.ID)
	b = appendJSONStringField(b, "sku", v.SKU)
	b = appendJSONStringField(b, "status", v.Status)
	b = appendJSONStringField(b, "reason", v.Reason)
	b = appendJSONInt(b, "allocated", v.Allocated)
	b = appendJSONInt(b, "sold", v.Sold)
	b = appendJSONInt(b, "remaining", v.Remaining)
	b = appendJSONStringField(b, "starts_at", v.StartsAt)
	b = appendJSONStringField(b, "ends_at", v.EndsAt)
	b = appendJSONInt(b, "per_user_limit", v.PerUserLimit)
	b = appendJSONInt(b, "price", v.Price)
	b = appendJSONBool(b, "settled", v.Settled)
	b = appendJSONStringField(b, "settlement", v.Settlement)
	b = appendJSONStringField(b, "settlement_reason", v.SettlementReason)
	b = appendJSONField(b, "buckets")
	if v.Buckets == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, bk := range v.Buckets {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendJSONInt(b, "bucket", int64(bk.Bucket))
			b = appendJSONInt(b, "available", bk.Available)
			b = appendJSONInt(b, "sold", bk.Sold)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONFloat appends f as encoding/json does (its floatEncoder): the
// shortest form, in exponent form below 1e-6 and from 1e21 on, with a
// two-digit negative exponent cut to one. f must be finite, as json.Marshal
// requires.
func appendJSONFloat(b []byte, name string, f float64) []byte {
	b = appendJSONField(b, name)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendRecommendations(b []byte, recs []recommendationJSON) []byte {
	b = appendJSONField(b, "recommendations")
	if recs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, r := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendJSONStringField(b, "sku", r.SKU)
		b = appendJSONFloat(b, "score", r.Score)
		b = appendJSONFloat(b, "view_score", r.ViewScore)
		b = appendJSONFloat(b, "purchase_score", r.PurchaseScore)
		b = appendJSONStringField(b, "reason", r.Reason)
		b = append(b, '}')
	}
	return append(b, ']')
}

func (v itemRecommendationsJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendJSONStringField(b, "sku", v.SKU)
	b = appendJSONInt(b, "k", int64(v.K))
	b = appendRecommendations(b, v.Recommendations)
	return append(b, '}')
}

func (v userRecommendationsJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendJSONStringField(b, "user_id", v.UserID)
	b = appendJSONInt(b, "k", int64(v.K))
	b = appendRecommendations(b, v.Recommendations)
	return append(b, '}')
}
