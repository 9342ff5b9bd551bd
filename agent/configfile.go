package agent

import (
	"errors"
	"fmt"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// FileConfig is the agent's --policy file: the routes it declares to the
// edge (the fields of policy.Config) and the local targets it serves; or
// several tunnels, each with its own.
type FileConfig struct {
	policy.Config `yaml:",inline"`
	// Targets map path prefixes and names to local apps.
	Targets []TargetConfig `yaml:"targets,omitempty"`
	// Tunnels are several tunnels served over one session; the file then
	// has nothing outside them.
	Tunnels []TunnelConfig `yaml:"tunnels,omitempty"`
}

// LoadFile reads and checks an agent's --policy file; errors are
// *policy.ConfigError with the file, line and field.
func LoadFile(file string) (FileConfig, error) {
	var c FileConfig
	data, err := os.ReadFile(file)
	if err != nil {
		return c, &policy.ConfigError{File: file, Err: errors.Unwrap(err)}
	}
	err = policy.DecodeFile(file, data, &c, c.validate)
	return c, err
}

func (c *FileConfig) validate() error {
	noProxy := func(*url.URL) *httputil.ReverseProxy { return nil }
	if len(c.Tunnels) > 0 {
		if !reflect.ValueOf(c.Config).IsZero() || len(c.Targets) > 0 {
			return policy.AtField("tunnels", errors.New("routes: and targets: go inside each tunnel, not beside tunnels"))
		}
		if len(c.Tunnels) > tunnel.MaxTunnels {
			return policy.AtField("tunnels", fmt.Errorf("at most %d tunnels over one session", tunnel.MaxTunnels))
		}
		_, err := checkTunnels(c.Tunnels, noProxy)
		return err
	}
	if _, err := c.Config.Compile(); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		return nil
	}
	_, err := compileTargets("", c.Targets, noProxy)
	return err
}
