package policy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// A filter reads a JSON body through the values below: an object or an
// array of a jsonDoc that finds a key or an index by walking the body's
// text (jsonDoc.member, jsonDoc.index), and for everything else (size,
// iteration, equality, conversion) decodes itself with encoding/json and
// hands over to the value cel-go makes of that, so a filter sees exactly
// what it would see of the whole body decoded.

// value is the CEL value of v.
func (d *jsonDoc) value(v jsonAt) ref.Val {
	switch c := d.kind(v); c {
	case '{':
		return &jsonObject{jsonBox: jsonBox{d: d, at: v}}
	case '[':
		return &jsonArray{jsonBox: jsonBox{d: d, at: v}}
	case '"':
		return types.String(jsonString(d.raw(v)))
	case 't':
		return types.True
	case 'f':
		return types.False
	case 'n':
		return types.NullValue
	default:
		f, err := strconv.ParseFloat(string(d.raw(v)), 64)
		if err != nil { // cannot happen in a checked document
			return types.NewErr("policy: bad JSON number")
		}
		return types.Double(f)
	}
}

// jsonBox is what objects and arrays share: the decoded value, made the
// first time an operation needs it, and the fields already read, so that
// further filters on the same request (which share the body's value) find
// body.pull_request.base.ref without walking the text again. A value
// belongs to one request, read by one goroutine.
type jsonBox struct {
	d       *jsonDoc
	at      jsonAt
	decoded ref.Val
	read    []jsonRead
}

// jsonRead is a field found (or not) by FindStringKey.
type jsonRead struct {
	key string
	val ref.Val // nil: not there
}

func (b *jsonBox) full() ref.Val {
	if b.decoded == nil {
		var v any
		if err := json.Unmarshal(b.d.raw(b.at), &v); err != nil { // cannot happen in a checked document
			b.decoded = types.NewErr("policy: bad JSON: %v", err)
		} else {
			b.decoded = types.DefaultTypeAdapter.NativeToValue(v)
		}
	}
	return b.decoded
}

func (b *jsonBox) mapper() traits.Mapper {
	if m, ok := b.full().(traits.Mapper); ok {
		return m
	}
	return types.NewStringInterfaceMap(types.DefaultTypeAdapter, nil)
}

func (b *jsonBox) lister() traits.Lister {
	if l, ok := b.full().(traits.Lister); ok {
		return l
	}
	return types.NewDynamicList(types.DefaultTypeAdapter, []any{})
}

func (b *jsonBox) ConvertToNative(t reflect.Type) (any, error) { return b.full().ConvertToNative(t) }
func (b *jsonBox) ConvertToType(t ref.Type) ref.Val            { return b.full().ConvertToType(t) }
func (b *jsonBox) Equal(other ref.Val) ref.Val                 { return b.full().Equal(other) }
func (b *jsonBox) Value() any                                  { return b.full().Value() }
func (b *jsonBox) String() string                              { return fmt.Sprint(b.full()) }

func (b *jsonBox) IsZeroValue() bool {
	z, ok := b.full().(traits.Zeroer)
	return ok && z.IsZeroValue()
}

func (b *jsonBox) Fold(f traits.Folder) {
	if fo, ok := b.full().(traits.Foldable); ok {
		fo.Fold(f)
	}
}

func (b *jsonBox) AggregateSize(s types.AggregateSizer) uint32 {
	if v, ok := b.full().(types.AggregateSizeVisitor); ok {
		return v.AggregateSize(s)
	}
	return 1
}

// jsonObject is a JSON object as a CEL map(string, dyn).
type jsonObject struct{ jsonBox }

var _ traits.Mapper = (*jsonObject)(nil)

func (o *jsonObject) Type() ref.Type            { return types.MapType }
func (o *jsonObject) Iterator() traits.Iterator { return o.mapper().Iterator() }
func (o *jsonObject) Size() ref.Val             { return o.mapper().Size() }

func (o *jsonObject) Contains(key ref.Val) ref.Val {
	if _, ok := key.(types.String); ok {
		_, found := o.Find(key)
		return types.Bool(found)
	}
	return o.mapper().Contains(key)
}

func (o *jsonObject) Get(key ref.Val) ref.Val {
	if _, ok := key.(types.String); ok {
		if v, found := o.Find(key); found {
			return v
		}
	}
	return o.mapper().Get(key)
}

// Find looks a string key up on the text; other keys, which a JSON
// object cannot have, are the decoded map's to answer.
func (o *jsonObject) Find(key ref.Val) (ref.Val, bool) {
	if s, ok := key.(types.String); ok {
		v, found := o.FindStringKey(string(s))
		if !found {
			return nil, false
		}
		return v.(ref.Val), true
	}
	return o.mapper().Find(key)
}

// FindStringKey is the interpreter's road to obj.field and obj["field"]
// (and has()): the one lookup made on the text.
func (o *jsonObject) FindStringKey(key string) (any, bool) {
	for _, r := range o.read {
		if r.key == key {
			return r.val, r.val != nil
		}
	}
	var val ref.Val
	if v, ok := o.d.member(o.at, key); ok {
		val = o.d.value(v)
	}
	if len(o.read) < 8 {
		o.read = append(o.read, jsonRead{key: key, val: val})
	}
	return val, val != nil
}

// jsonArray is a JSON array as a CEL list(dyn).
type jsonArray struct{ jsonBox }

var _ traits.Lister = (*jsonArray)(nil)

func (a *jsonArray) Type() ref.Type             { return types.ListType }
func (a *jsonArray) Iterator() traits.Iterator  { return a.lister().Iterator() }
func (a *jsonArray) Size() ref.Val              { return a.lister().Size() }
func (a *jsonArray) Contains(v ref.Val) ref.Val { return a.lister().Contains(v) }

func (a *jsonArray) Get(i ref.Val) ref.Val {
	if n, ok := i.(types.Int); ok {
		if v, found := a.GetInt64Index(int64(n)); found {
			return v.(ref.Val)
		}
	}
	return a.lister().Get(i)
}

func (a *jsonArray) Add(other ref.Val) ref.Val { return a.lister().Add(other) }

// GetInt64Index is the interpreter's road to list[i].
func (a *jsonArray) GetInt64Index(i int64) (any, bool) {
	if i < 0 || i > 1<<31 {
		return nil, false
	}
	v, ok := a.d.index(a.at, int(i))
	if !ok {
		return nil, false
	}
	return a.d.value(v), true
}
