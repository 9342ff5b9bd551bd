package iplist

import (
	"fmt"
	"net/netip"
	"strings"
)

// Source is where a named list comes from and how its document is read.
type Source struct {
	Name   string
	URL    string // default; `ips update --source NAME=URL` overrides it
	Format string
	// About says what the list covers, for `ips list` and the docs.
	About string
	Parse func(doc []byte) ([]netip.Prefix, error)
}

// Sources is the table of lists hooktunnel knows how to refresh. Only
// providers that publish their webhook source addresses in a machine-readable
// document are here; Slack, Shopify, Twilio and others publish none, and a
// hand-made list would rot silently (see docs/ip-allowlists.md).
//
// It is a function so the table cannot be modified by a caller.
func Sources() []Source {
	return []Source{
		{
			Name:   "github",
			URL:    "https://api.github.com/meta",
			Format: FormatGitHubMeta,
			About:  "GitHub.com webhook deliveries (the meta API's hooks array)",
			Parse:  ParseGitHubMeta,
		},
		{
			Name:   "stripe",
			URL:    "https://stripe.com/files/ips/ips_webhooks.json",
			Format: FormatStripeIPs,
			About:  "Stripe webhook events (the WEBHOOKS array)",
			Parse:  ParseStripeIPs,
		},
		{
			Name:   "pagerduty-us",
			URL:    "https://developer.pagerduty.com/ip-safelists/webhooks-us-service-region-json",
			Format: FormatAddressArray,
			About:  "PagerDuty webhooks, US service region",
			Parse:  ParseAddressArray,
		},
		{
			Name:   "pagerduty-eu",
			URL:    "https://developer.pagerduty.com/ip-safelists/webhooks-eu-service-region-json",
			Format: FormatAddressArray,
			About:  "PagerDuty webhooks, EU service region",
			Parse:  ParseAddressArray,
		},
		{
			Name:   "atlassian",
			URL:    "https://ip-ranges.atlassian.com/",
			Format: FormatAtlassianEgress,
			About:  "Atlassian cloud outgoing connections (Jira, Confluence, Bitbucket… webhooks): egress ranges, mail relays left out",
			Parse:  func(doc []byte) ([]netip.Prefix, error) { return ParseAtlassianIPRanges(doc, "") },
		},
		{
			Name:   "bitbucket",
			URL:    "https://ip-ranges.atlassian.com/",
			Format: FormatAtlassianEgress + "/bitbucket",
			About:  "Bitbucket Cloud webhooks: Atlassian egress ranges marked for bitbucket",
			Parse:  func(doc []byte) ([]netip.Prefix, error) { return ParseAtlassianIPRanges(doc, "bitbucket") },
		},
	}
}

// SourceFor returns the registered source called name.
func SourceFor(name string) (Source, error) {
	var names []string
	for _, s := range Sources() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Source{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownList, name, strings.Join(names, ", "))
}
