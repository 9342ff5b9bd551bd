package policy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// A route's filter is a CEL expression over a request that has passed the
// route's checks (signature included): the variables below. It is
// compiled once, when the config is loaded; a type error or an unknown
// variable is a config error. Evaluating it is bounded by
// FilterCostLimit, so no expression can burn the edge.
//
//	method, path, provider, event, delivery_id, client_ip  string
//	query    map(string, string)  the first value of each parameter
//	headers  map(string, string)  lowercase names, looked up in any case;
//	                              repeated headers joined with ", "
//	body     dyn                  the parsed JSON when the content type is
//	                              JSON, else the body as a string
//	time     timestamp            when the edge received the request

// FilterCostLimit bounds one evaluation of a filter, in CEL cost units
// (about one per operation, and one per ten bytes a string function
// scans): a typical filter costs under 50; a whole-body scan of a 10 MiB
// body is about a million. Past the limit the evaluation stops with an
// error, which the edge treats as a mismatch.
const FilterCostLimit = 1_000_000

// filterMaxLength bounds an expression's source, so a config cannot make
// compiling it expensive.
const filterMaxLength = 4096

// Filter is a compiled filter expression. It is immutable and safe for
// concurrent use.
type Filter struct {
	source   string
	program  cel.Program
	constant *bool
}

// String is the expression as configured.
func (f *Filter) String() string { return f.source }

// compileMu serializes compiling filters (see CompileFilter).
var compileMu sync.Mutex

// filterEnv is the CEL environment every filter compiles in; built once.
var filterEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("method", cel.StringType),
		cel.Variable("path", cel.StringType),
		cel.Variable("query", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("body", cel.DynType),
		cel.Variable("provider", cel.StringType),
		cel.Variable("event", cel.StringType),
		cel.Variable("delivery_id", cel.StringType),
		cel.Variable("client_ip", cel.StringType),
		cel.Variable("time", cel.TimestampType),
		ext.Strings(),
		cel.ParserExpressionSizeLimit(filterMaxLength),
		cel.ASTValidators(
			cel.ValidateRegexLiterals(),
			// A comprehension inside a comprehension inside another is
			// quadratic or worse in the body's size.
			cel.ValidateComprehensionNestingLimit(2),
		),
	)
})

// CompileFilter compiles a filter expression; the error says what is wrong
// and where in the expression.
func CompileFilter(source string) (*Filter, error) {
	if strings.TrimSpace(source) == "" {
		return nil, errors.New("is empty: leave filter out to take every request")
	}
	if len(source) > filterMaxLength {
		return nil, fmt.Errorf("is %d bytes, longer than the %d a filter may be", len(source), filterMaxLength)
	}
	env, err := filterEnv()
	if err != nil {
		return nil, fmt.Errorf("cannot build the filter environment: %w", err)
	}
	// cel-go's checker races with itself when one Env checks expressions
	// with comprehensions on several goroutines (seen with the race
	// detector); compiling happens at config load only, so one at a time.
	compileMu.Lock()
	checked, iss := env.Compile(source)
	compileMu.Unlock()
	if iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			loc := e.Location
			msgs = append(msgs, fmt.Sprintf("%s (at %d:%d)", e.Message, loc.Line(), loc.Column()+1))
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	if out := checked.OutputType(); !out.IsExactType(types.BoolType) && !out.IsExactType(types.DynType) {
		return nil, fmt.Errorf("is of type %s; a filter must be a bool", checked.OutputType())
	}
	prg, err := env.Program(checked,
		cel.CostLimit(FilterCostLimit),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	f := &Filter{source: source, program: prg}
	if e := checked.NativeRep().Expr(); e.Kind() == ast.LiteralKind {
		if lit, ok := e.AsLiteral().(types.Bool); ok {
			b := bool(lit)
			f.constant = &b
		}
	}
	return f, nil
}

// FilterInput is what a filter sees of one request besides the request
// itself: what the route's checks learned of it.
type FilterInput struct {
	Provider   string
	DeliveryID string
	Now        time.Time
}

// ErrFilterCost is an evaluation stopped at FilterCostLimit.
var ErrFilterCost = errors.New("policy: filter exceeded its cost limit")

// Match evaluates the filter on r. An error (a missing field read without
// has(), the cost limit) means the filter did not take the request.
func (f *Filter) Match(r *Request, in FilterInput) (bool, error) {
	act := &filterActivation{r: r, in: in}
	out, _, err := f.program.Eval(act)
	if err != nil {
		var stopped interpreter.EvalCancelledError
		if errors.As(err, &stopped) && stopped.Cause == interpreter.CostLimitExceeded {
			return false, fmt.Errorf("%w (%d)", ErrFilterCost, FilterCostLimit)
		}
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the filter gave %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// filterActivation resolves the filter's variables from the request,
// building each only when the expression reads it.
type filterActivation struct {
	r  *Request
	in FilterInput
}

var _ interpreter.Activation = (*filterActivation)(nil)

func (a *filterActivation) Parent() interpreter.Activation { return nil }

func (a *filterActivation) ResolveName(name string) (any, bool) {
	r := a.r
	switch name {
	case "method":
		return r.Method, true
	case "path":
		if r.URL == nil {
			return "", true
		}
		return r.URL.Path, true
	case "query":
		return r.filterQuery(), true
	case "headers":
		return r.filterHeaders(), true
	case "body":
		return r.filterBody(), true
	case "provider":
		return a.in.Provider, true
	case "event":
		return r.Event, true
	case "delivery_id":
		return a.in.DeliveryID, true
	case "client_ip":
		if !r.RemoteAddr.IsValid() {
			return "", true
		}
		return r.RemoteAddr.String(), true
	case "time":
		return types.Timestamp{Time: a.in.Now.UTC()}, true
	}
	return nil, false
}

// filterBody is the body as filters see it, converted once per request
// however many filters read it.
func (r *Request) filterBody() ref.Val {
	if r.filterVals.body == nil {
		r.filterVals.body = r.bodyValue()
	}
	return r.filterVals.body
}

func (r *Request) filterHeaders() ref.Val {
	if r.filterVals.headers == nil {
		r.filterVals.headers = headersValue(r.Header)
	}
	return r.filterVals.headers
}

func (r *Request) filterQuery() ref.Val {
	if r.filterVals.query == nil {
		var q url.Values
		if r.URL != nil {
			q = r.URL.Query()
		}
		r.filterVals.query = queryValue(q)
	}
	return r.filterVals.query
}
