package policy

import (
	"errors"
	"fmt"
)

// FieldError is a config error tied to the field it is about, as a path
// from the top of the config ("tunnels.github.routes[2].verify.secrets[0]"),
// so a loader can point at the file and line.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// AtField puts err under field; a FieldError already inside gets field as
// its prefix ("routes[2]" + ".path").
func AtField(field string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		sep := "."
		if len(fe.Field) > 0 && fe.Field[0] == '[' {
			sep = ""
		}
		return &FieldError{Field: field + sep + fe.Field, Err: fe.Err}
	}
	return &FieldError{Field: field, Err: err}
}

// fieldf is a FieldError with a formatted message.
func fieldf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
