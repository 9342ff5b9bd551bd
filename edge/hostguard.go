package edge

import (
	"errors"
	"net/http"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/policy"
)

// guardHosts answers only requests whose Host hosts allows, and refuses
// writes a page of another site made: the admin listener and the
// inspectors serve the journal to browsers on 127.0.0.1, where a page of
// evil.example could reach them by rebinding its name to that address.
// hosts is read per request so a reload of admin.hosts takes effect. hint
// tells the reader of a Host refusal what to change.
func guardHosts(hosts func() *policy.Hosts, hint string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := hosts().Check(r.Method, r.Header, r.Host)
		var detail string
		if ref := (*policy.Refusal)(nil); errors.As(err, &ref) {
			detail = ref.Detail
		}
		switch {
		case errors.Is(err, policy.ErrHostNotAllowed):
			writeRefusal(w, http.StatusForbidden, outcome.CodeHostNotAllowed, detail+": "+hint, "")
		case errors.Is(err, policy.ErrCrossSite):
			writeRefusal(w, http.StatusForbidden, outcome.CodeCrossSite, detail+": a change must come from this listener's own UI, the CLI or the API", "")
		case err != nil:
			writeRefusal(w, http.StatusForbidden, outcome.CodeHostNotAllowed, "the request was refused", "")
		default:
			next.ServeHTTP(w, r)
		}
	})
}
