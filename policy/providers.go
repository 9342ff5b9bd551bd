package policy

import "time"

// providers is the table of signature schemes, by the name used in config
// and on the command line. Each entry's constructor lives in the file named
// for the provider; its event rule says where the provider names the kind
// of event a delivery is (event.go). Twilio and the generic hmac name none.
var providers = map[string]provider{
	"github":            {build: newGitHub, event: event(header("X-GitHub-Event"), field("action"))},
	"gitlab":            {tolerance: 5 * time.Minute, build: newGitLab, event: event(header("X-Gitlab-Event")).or(field("object_kind"))},
	"bitbucket":         {build: newBitbucket, event: event(header("X-Event-Key"))},
	"bitbucket-server":  {build: newBitbucketServer, event: event(header("X-Event-Key"))},
	"stripe":            {tolerance: 5 * time.Minute, build: newStripe, event: event(field("type"))},
	"standard-webhooks": {tolerance: 5 * time.Minute, build: newStandardWebhooks, event: event(field("type"))},
	"slack":             {tolerance: 5 * time.Minute, build: newSlack, event: event(field("event", "type")).or(field("type"))},
	"shopify":           {build: newShopify, event: event(header("X-Shopify-Topic"))},
	"twilio":            {build: newTwilio},
	"square":            {build: newSquare, event: event(field("type"))},
	"zoom":              {tolerance: 5 * time.Minute, build: newZoom, event: event(field("event"))},
	"discord":           {build: newDiscord, event: event(field("event", "type")).or(field("type"))},
	"sendgrid":          {build: newSendGrid, event: event(field("0", "event"))},
	"pagerduty":         {build: newPagerDuty, event: event(field("event", "event_type")).or(field("messages", "0", "event"))},
	"linear":            {tolerance: time.Minute, build: newLinear, event: event(field("type"), field("action"))},
	"paddle":            {tolerance: 5 * time.Second, build: newPaddle, event: event(field("event_type")).or(field("alert_name"))},
	"hubspot":           {tolerance: 5 * time.Minute, build: newHubSpot, event: event(field("0", "subscriptionType"))},
	"intercom":          {build: newIntercom, event: event(field("topic"))},
	"atlassian":         {build: newAtlassian, event: event(field("webhookEvent"))},
	"teams":             {build: newTeams, event: event(field("type"))},
	"twitch":            {tolerance: 10 * time.Minute, build: newTwitch, event: event(header("Twitch-Eventsub-Subscription-Type"))},
	"typeform":          {build: newTypeform, event: event(field("event_type"))},
	"hmac":              {build: newGenericHMAC},
}
