package policy

import (
	"net/http"
	"strings"
	"testing"
)

func TestEvent(t *testing.T) {
	t.Parallel()
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name     string
		provider string
		header   http.Header
		body     string
		want     string
	}{
		{"github pull request", "github", h("X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
			`{"action":"opened","number":2,"pull_request":{"title":"Update README"}}`, "pull_request.opened"},
		{"github push has no action", "github", h("X-GitHub-Event", "push"), `{"ref":"refs/heads/main","before":"0000"}`, "push"},
		{"github ping", "github", h("X-GitHub-Event", "ping"), `{"zen":"Design for failure.","hook_id":1}`, "ping"},
		{"github action without event header", "github", h(), `{"action":"opened"}`, ""},
		{"github form-encoded body", "github", h("X-GitHub-Event", "issues"), `payload=%7B%22action%22%3A%22opened%22%7D`, "issues"},
		{"gitlab", "gitlab", h("X-Gitlab-Event", "Merge Request Hook"), `{"object_kind":"merge_request"}`, "Merge Request Hook"},
		{"gitlab without header", "gitlab", h(), `{"object_kind":"pipeline"}`, "pipeline"},
		{"bitbucket", "bitbucket", h("X-Event-Key", "repo:push"), `{"push":{"changes":[]}}`, "repo:push"},
		{"bitbucket server", "bitbucket-server", h("X-Event-Key", "pr:opened"), `{"eventKey":"pr:opened"}`, "pr:opened"},
		{"shopify", "shopify", h("X-Shopify-Topic", "orders/create"), `{"id":820982911946154508}`, "orders/create"},
		{"stripe", "stripe", h(), `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.payment_succeeded","data":{"object":{"type":"not this"}}}`, "invoice.payment_succeeded"},
		{"standard webhooks", "standard-webhooks", h(), `{"type":"user.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{}}`, "user.created"},
		{"svix alias", "svix", h(), `{"type":"invoice.paid"}`, "invoice.paid"},
		{"slack event callback", "slack", h(), `{"token":"x","type":"event_callback","event":{"type":"app_mention","text":"hi"}}`, "app_mention"},
		{"slack url verification", "slack", h(), `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`, "url_verification"},
		{"square", "square", h(), `{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated","event_id":"13b867cf"}`, "payment.updated"},
		{"zoom", "zoom", h(), `{"event":"meeting.started","event_ts":1626230691572,"payload":{}}`, "meeting.started"},
		{"discord ping is a number", "discord", h(), `{"type":1,"id":"1","application_id":"2"}`, "1"},
		{"discord webhook event", "discord", h(), `{"version":1,"application_id":"2","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2024-10-18T14:42:53.064834"}}`, "APPLICATION_AUTHORIZED"},
		{"sendgrid takes the first event", "sendgrid", h(), `[{"email":"a@example.com","event":"processed"},{"email":"b@example.com","event":"delivered"}]`, "processed"},
		{"sendgrid empty array", "sendgrid", h(), `[]`, ""},
		{"pagerduty v3", "pagerduty", h(), `{"event":{"id":"5ac64822","event_type":"incident.triggered","resource_type":"incident"}}`, "incident.triggered"},
		{"linear", "linear", h(), `{"action":"create","type":"Issue","data":{"id":"2174add1"},"webhookTimestamp":1676056940508}`, "Issue.create"},
		{"paddle billing", "paddle", h(), `{"event_id":"evt_01h","event_type":"transaction.completed","data":{}}`, "transaction.completed"},
		{"hubspot first subscription", "hubspot", h(), `[{"eventId":1,"subscriptionType":"contact.propertyChange"},{"subscriptionType":"contact.creation"}]`, "contact.propertyChange"},
		{"intercom", "intercom", h(), `{"type":"notification_event","topic":"conversation.user.created","data":{}}`, "conversation.user.created"},
		{"atlassian", "atlassian", h(), `{"timestamp":1,"webhookEvent":"jira:issue_updated","issue_event_type_name":"issue_generic"}`, "jira:issue_updated"},
		{"twitch", "twitch", h("Twitch-Eventsub-Subscription-Type", "channel.follow", "Twitch-Eventsub-Message-Type", "notification"), `{"subscription":{"type":"channel.follow"}}`, "channel.follow"},
		{"typeform", "typeform", h(), `{"event_id":"01GS","event_type":"form_response","form_response":{}}`, "form_response"},
		{"twilio names none", "twilio", h(), `{"type":"x"}`, ""},
		{"generic hmac names none", "hmac", h(), `{"type":"x"}`, ""},
		{"unknown provider", "nope", h("X-GitHub-Event", "push"), `{"type":"x"}`, ""},
		{"not JSON", "stripe", h(), `type=invoice.paid`, ""},
		{"broken JSON", "stripe", h(), `{"type":"invoice.paid"`, ""},
		{"field is an object", "stripe", h(), `{"type":{"a":1}}`, ""},
		{"body over the limit", "stripe", h(), `{"type":"big","pad":"` + strings.Repeat("x", maxEventBody) + `"}`, ""},
		{"control characters", "stripe", h(), `{"type":"a\nb\u0000c"}`, "a?b?c"},
		{"long name is cut", "stripe", h(), `{"type":"` + strings.Repeat("é", 100) + `"}`, strings.Repeat("é", maxEventLen/2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Event(tc.provider, tc.header, []byte(tc.body)); got != tc.want {
				t.Errorf("Event(%s) = %q, want %q", tc.provider, got, tc.want)
			}
		})
	}
}

// Every provider that names its events has a rule that reads something:
// a table entry with a rule of no parts would panic on way[0].
func TestEventRulesWellFormed(t *testing.T) {
	t.Parallel()
	for name, p := range providers {
		for i, way := range p.event {
			if len(way) == 0 {
				t.Errorf("%s: event way %d has no parts", name, i)
			}
		}
	}
}

func FuzzEvent(f *testing.F) {
	f.Add("github", "pull_request", `{"action":"opened"}`)
	f.Add("sendgrid", "", `[{"event":"processed"}]`)
	f.Add("slack", "", `{"type":"event_callback","event":{"type":"app_mention"}}`)
	f.Add("discord", "", `{"type":1}`)
	f.Add("stripe", "", `{"type":"\u0000\ud800"}`)
	f.Fuzz(func(t *testing.T, provider, hdr, body string) {
		got := Event(provider, http.Header{"X-Github-Event": {hdr}, "X-Event-Key": {hdr}}, []byte(body))
		if len(got) > maxEventLen {
			t.Fatalf("event is %d bytes, over %d", len(got), maxEventLen)
		}
		for _, r := range got {
			if r == '\n' || r == '\r' || r == 0 {
				t.Fatalf("event %q holds a control character", got)
			}
		}
	})
}
