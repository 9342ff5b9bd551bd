package agent

import (
	"errors"
	"net/http/httputil"
	"net/url"
	"os"

	"github.com/hooktunnel/hooktunnel/policy"
)

// FileConfig is the agent's --policy file: the routes it declares to the
// edge (the fields of policy.Config) and the local targets it serves.
type FileConfig struct {
	policy.Config `yaml:",inline"`
	// Targets map path prefixes and names to local apps.
	Targets []TargetConfig `yaml:"targets,omitempty"`
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
	if _, err := c.Config.Compile(); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		return nil
	}
	_, err := compileTargets("", c.Targets, func(*url.URL) *httputil.ReverseProxy { return nil })
	return err
}
