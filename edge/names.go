package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

var (
	nameAdjectives = strings.Fields("amber brave calm clever crisp eager gentle golden happy jolly keen lively lucky mellow merry nimble proud quiet rapid silver steady sunny swift tidy vivid witty")
	nameNouns      = strings.Fields("badger beacon falcon harbor heron lantern maple meadow orbit otter panda pebble quartz raven river rocket sparrow summit tiger walrus willow")
)

// readableName returns a name like "swift-otter-3f9a".
func readableName() string {
	pick := func(words []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		return words[n.Int64()]
	}
	var suffix [2]byte
	_, _ = rand.Read(suffix[:])
	return pick(nameAdjectives) + "-" + pick(nameNouns) + "-" + hex.EncodeToString(suffix[:])
}

// nameForGlob fills a grant's glob with a readable name ("ci-*" → "ci-swift-otter-3f9a").
func nameForGlob(glob string) (string, bool) {
	if strings.Count(glob, "*") != 1 || strings.ContainsAny(glob, "?[") {
		return "", false
	}
	name := strings.Replace(glob, "*", readableName(), 1)
	return name, tunnel.ValidName(name)
}

// errNameNeeded means the edge cannot choose a tunnel name for an agent
// that asked for none: the agent must name one (--name).
var errNameNeeded = errors.New("pass --name")

// errNoNameFromGrant means the grant names no tunnel the edge could pick.
var errNoNameFromGrant = fmt.Errorf("the token grants no tunnel name the edge can choose; %w", errNameNeeded)

// chooseName picks the tunnel name for an agent that asked for none: the
// name stored for its token and target, else the grant's only exact name,
// else a readable name inside the grant, stored for next time.
func chooseName(ctx context.Context, names store.Names, g *grant, target string) (string, error) {
	key := hex.EncodeToString(g.tokenHash[:]) + " " + target
	if name, ok, err := names.TunnelName(ctx, key); err != nil {
		return "", err
	} else if ok && g.allows(name) {
		return name, nil
	}
	var exact []string
	for _, pat := range g.tunnels {
		if !strings.ContainsAny(pat, "*?[") {
			exact = append(exact, pat)
		}
	}
	if len(exact) == 1 {
		return exact[0], nil
	}
	for _, pat := range g.tunnels {
		for attempt := 0; attempt < 8; attempt++ {
			name, ok := nameForGlob(pat)
			if !ok {
				break
			}
			err := names.AllocateTunnelName(ctx, key, name)
			if errors.Is(err, store.ErrNameTaken) {
				continue
			}
			if err != nil {
				return "", err
			}
			return name, nil
		}
	}
	if len(exact) > 0 {
		return "", fmt.Errorf("the token grants several tunnels (%s); %w", strings.Join(exact, ", "), errNameNeeded)
	}
	return "", errNoNameFromGrant
}
