package policy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// A jsonDoc is a request body checked to be JSON exactly as
// encoding/json.Unmarshal into an `any` would accept it, with the extent
// of each object and array, so that a filter or the event extraction
// reading body.pull_request.base.ref walks to that one field: the keys of
// each object on the way are read, the values they pass over are skipped
// in one step, and nothing else of the body is decoded.
//
// What a read finds is what encoding/json would have decoded there: the
// last of duplicate keys, keys and strings unescaped (bytes that are not
// UTF-8 become U+FFFD), numbers as float64.
type jsonDoc struct {
	src []byte
	// boxes are the objects and arrays, in the order they open.
	boxes []jsonSpan
}

// jsonSpan is one object or array: src[start] is its '{' or '[',
// src[end] the bracket that closes it, and boxes[after] the first box
// that opens after it (len(boxes) when none does).
type jsonSpan struct {
	start, end, after int32
}

// jsonMaxDepth is encoding/json's nesting limit: a deeper document is not
// JSON to it, so not to us.
const jsonMaxDepth = 10000

// jsonSpecial marks the bytes a string cannot hold as they are.
var jsonSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// parseJSONDoc checks that src (trimmed of spaces, starting with '{' or
// '[') is JSON and indexes its objects and arrays; ok is false for
// anything encoding/json.Unmarshal would refuse, numbers too large for a
// float64 included. Bodies over 2 GiB are refused.
func parseJSONDoc(src []byte) (doc *jsonDoc, ok bool) {
	if len(src) >= 1<<31-1 {
		return nil, false
	}
	d := &jsonDoc{src: src, boxes: make([]jsonSpan, 0, 64)}
	var stackArr [32]int32
	open := stackArr[:0] // indexes into d.boxes of the boxes not closed yet
	var in byte          // the innermost open box's bracket, 0 at the top
	n := len(src)
	p := 0
value:
	if p < n && src[p] <= ' ' {
		p = skipSpace(src, p)
	}
	if p >= n {
		return nil, false
	}
	switch c := src[p]; {
	case c == '"':
		if p, ok = scanString(src, p); !ok {
			return nil, false
		}
	case c == '{' || c == '[':
		if len(open) >= jsonMaxDepth {
			return nil, false
		}
		open = append(open, int32(len(d.boxes)))
		d.boxes = append(d.boxes, jsonSpan{start: int32(p)})
		in = c
		p = skipSpace(src, p+1)
		if p < n && src[p] == c+2 { // '}' is '{'+2, ']' is '['+2
			goto closeBox
		}
		if c == '{' {
			goto key
		}
		goto value
	case c == '-' || c >= '0' && c <= '9':
		if p, ok = scanNumber(src, p); !ok {
			return nil, false
		}
	case c == 't':
		if p+4 > n || string(src[p:p+4]) != "true" {
			return nil, false
		}
		p += 4
	case c == 'f':
		if p+5 > n || string(src[p:p+5]) != "false" {
			return nil, false
		}
		p += 5
	case c == 'n':
		if p+4 > n || string(src[p:p+4]) != "null" {
			return nil, false
		}
		p += 4
	default:
		return nil, false
	}
afterValue:
	if in == 0 {
		return d, skipSpace(src, p) == n
	}
	if p < n && src[p] <= ' ' {
		p = skipSpace(src, p)
	}
	if p >= n {
		return nil, false
	}
	switch c := src[p]; c {
	case ',':
		p++
		if in == '{' {
			goto key
		}
		goto value
	case in + 2:
		goto closeBox
	}
	return nil, false
key:
	if p < n && src[p] <= ' ' {
		p = skipSpace(src, p)
	}
	if p >= n || src[p] != '"' {
		return nil, false
	}
	if p, ok = scanString(src, p); !ok {
		return nil, false
	}
	if p < n && src[p] <= ' ' {
		p = skipSpace(src, p)
	}
	if p >= n || src[p] != ':' {
		return nil, false
	}
	p++
	goto value
closeBox:
	{
		k := open[len(open)-1]
		open = open[:len(open)-1]
		d.boxes[k].end, d.boxes[k].after = int32(p), int32(len(d.boxes))
		p++
		in = 0
		if len(open) > 0 {
			in = src[d.boxes[open[len(open)-1]].start]
		}
	}
	goto afterValue
}

// skipSpace skips JSON's white space from p.
func skipSpace(src []byte, p int) int {
	for p < len(src) {
		switch src[p] {
		case ' ', '\t', '\n', '\r':
			p++
		default:
			return p
		}
	}
	return p
}

// specials marks, in the eight bytes of x, each quote, backslash or
// control character: the lowest mark is exact, those above it may not be.
func specials(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, b := x^(ones*'"'), x^(ones*'\\')
	return ((x - ones*0x20) &^ x & highs) | ((q - ones) &^ q & highs) | ((b - ones) &^ b & highs)
}

// scanString checks the string whose quote is at src[p] and returns the
// offset past its closing quote.
func scanString(src []byte, p int) (int, bool) {
	n := len(src)
	p++
	for {
		if p+8 <= n {
			m := specials(binary.LittleEndian.Uint64(src[p:]))
			if m == 0 {
				p += 8
				continue
			}
			p += bits.TrailingZeros64(m) >> 3
		} else {
			for p < n && !jsonSpecial[src[p]] {
				p++
			}
			if p >= n {
				return p, false
			}
		}
		switch src[p] {
		case '"':
			return p + 1, true
		case '\\':
			if p+1 >= n {
				return p, false
			}
			switch src[p+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p += 2
			case 'u':
				if p+6 > n {
					return p, false
				}
				for _, h := range src[p+2 : p+6] {
					if !isHex(h) {
						return p, false
					}
				}
				p += 6
			default:
				return p, false
			}
		default: // a control character
			return p, false
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanNumber checks the number starting at src[p] and returns the offset
// past it. A number too large for a float64 is refused, as
// encoding/json's Unmarshal into an `any` refuses it.
func scanNumber(src []byte, p int) (int, bool) {
	n, start := len(src), p
	if src[p] == '-' {
		p++
	}
	switch {
	case p < n && src[p] == '0':
		p++
	case p < n && src[p] >= '1' && src[p] <= '9':
		for p < n && src[p] >= '0' && src[p] <= '9' {
			p++
		}
	default:
		return p, false
	}
	if p < n && src[p] == '.' {
		p++
		from := p
		for p < n && src[p] >= '0' && src[p] <= '9' {
			p++
		}
		if p == from {
			return p, false
		}
	}
	exp := p < n && (src[p] == 'e' || src[p] == 'E')
	if exp {
		p++
		if p < n && (src[p] == '+' || src[p] == '-') {
			p++
		}
		from := p
		for p < n && src[p] >= '0' && src[p] <= '9' {
			p++
		}
		if p == from {
			return p, false
		}
	}
	if exp || p-start > 300 {
		if _, err := strconv.ParseFloat(string(src[start:p]), 64); err != nil {
			return p, false
		}
	}
	return p, true
}

// The reads below walk a document parseJSONDoc accepted.

// jsonEndString is the offset past the closing quote of the string whose
// quote is at src[p].
func jsonEndString(src []byte, p int) int {
	p++
	for {
		q := bytes.IndexByte(src[p:], '"')
		if q < 0 { // cannot happen in a checked document
			return len(src)
		}
		p += q
		back := 0
		for back < p && src[p-1-back] == '\\' {
			back++
		}
		p++
		if back%2 == 0 {
			return p
		}
	}
}

// jsonEndScalar is the offset past the number or literal at src[p].
func jsonEndScalar(src []byte, p int) int {
	for p < len(src) {
		switch src[p] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return p
		}
		p++
	}
	return p
}

// jsonString decodes the string token raw (quotes included) as
// encoding/json does.
func jsonString(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(raw, &s) // raw was checked: this cannot fail
	return s
}

// keyIs reports whether the key token raw (quotes included) decodes to
// key.
func keyIs(raw []byte, key string) bool {
	inner := raw[1 : len(raw)-1]
	if string(inner) == key {
		// An escape would have made the decoded key shorter, a byte that
		// is not UTF-8 a U+FFFD.
		return bytes.IndexByte(inner, '\\') < 0 && utf8.ValidString(key)
	}
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			return jsonString(raw) == key
		}
	}
	return false
}

// A jsonAt is one value in a document: at src[p], and boxes[box] when it
// is an object or an array.
type jsonAt struct {
	p, box int
}

// kind is the value's first byte: '{', '[', '"', 't', 'f', 'n', or a
// number's first.
func (d *jsonDoc) kind(v jsonAt) byte { return d.src[v.p] }

// member finds the value of key in the object v, the last one when the
// key repeats.
func (d *jsonDoc) member(v jsonAt, key string) (jsonAt, bool) {
	src := d.src
	end := int(d.boxes[v.box].end)
	p, next := v.p+1, v.box+1
	var found jsonAt
	ok := false
	for {
		p = skipSpace(src, p)
		if p >= end {
			return found, ok
		}
		if src[p] == ',' {
			p = skipSpace(src, p+1)
		}
		k := jsonEndString(src, p)
		match := keyIs(src[p:k], key)
		p = skipSpace(src, k)
		p = skipSpace(src, p+1) // the ':'
		if match {
			found, ok = jsonAt{p: p, box: next}, true
		}
		p, next = d.skip(p, next)
	}
}

// index finds element i of the array v.
func (d *jsonDoc) index(v jsonAt, i int) (jsonAt, bool) {
	src := d.src
	end := int(d.boxes[v.box].end)
	p, next := v.p+1, v.box+1
	for n := 0; ; n++ {
		p = skipSpace(src, p)
		if p >= end {
			return jsonAt{}, false
		}
		if src[p] == ',' {
			p = skipSpace(src, p+1)
		}
		if n == i {
			return jsonAt{p: p, box: next}, true
		}
		p, next = d.skip(p, next)
	}
}

// skip passes over the value at src[p], whose first box (if it is one or
// holds any) is boxes[next]; it returns where the value ends and the next
// box after it.
func (d *jsonDoc) skip(p, next int) (int, int) {
	switch d.src[p] {
	case '{', '[':
		b := d.boxes[next]
		return int(b.end) + 1, int(b.after)
	case '"':
		return jsonEndString(d.src, p), next
	}
	return jsonEndScalar(d.src, p), next
}

// raw is the value's text.
func (d *jsonDoc) raw(v jsonAt) []byte {
	end, _ := d.skip(v.p, v.box)
	return d.src[v.p:end]
}

// top is the document's value.
func (d *jsonDoc) top() jsonAt { return jsonAt{p: 0, box: 0} }
