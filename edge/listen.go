package edge

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// listen binds one of the edge's listeners; when it cannot, the error
// names the setting to change (the flag, which is also the config key).
func listen(what, addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	// "listen tcp 127.0.0.1:9090: bind: address already in use" says the
	// address twice and the flag never.
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		err = sys.Err
	}
	hint := ""
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = fmt.Sprintf(" (another edge? change --%s)", flag)
	case errors.Is(err, syscall.EACCES):
		hint = fmt.Sprintf(" (ports below 1024 need root or CAP_NET_BIND_SERVICE; change --%s)", flag)
	default:
		hint = fmt.Sprintf(" (change --%s)", flag)
	}
	return nil, fmt.Errorf("edge: %s %s: %w%s", what, addr, err, hint)
}

// dataDir makes the data directory and checks the edge may write in it,
// so a directory it cannot use is named with --data at start, not by a
// database error later.
func dataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return dataDirError(dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return dataDirError(dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func dataDirError(dir string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("edge: data directory %s: %w (pass --data DIR, or data: in the config, for a directory this user may write)", dir, err)
}

// listenHTTP binds the plain-HTTP listener of a TLS edge.
func listenHTTP(addr string) (net.Listener, error) {
	ln, err := listen("http listen", addr, "http-listen")
	if err != nil {
		return nil, fmt.Errorf("%w; it answers ACME HTTP-01 and redirects to HTTPS: --http-listen off turns it off", err)
	}
	return ln, nil
}
