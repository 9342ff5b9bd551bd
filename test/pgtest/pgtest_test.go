package pgtest

import (
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestServerServesFreshDatabases(t *testing.T) {
	s := Start(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases share the URL %s", a)
	}
	name := a[strings.LastIndex(a, "/")+1 : strings.Index(a, "?")]
	out, err := s.psql(name, "CREATE TABLE x (n int); INSERT INTO x VALUES (1)")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}
