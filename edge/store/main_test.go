package store

import (
	"os"
	"testing"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// TestMain stops the PostgreSQL server the Postgres tests started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
