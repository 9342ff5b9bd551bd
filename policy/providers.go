package policy

import "time"

// providers is the table of signature schemes, by the name used in config
// and on the command line. Each entry's constructor lives in the file named
// for the provider; its event rule says where the provider names the kind
// of event a delivery is (event.go); Twilio and the generic hmac name none.
// Its signatures name the headers its signature travels in; the generic
// hmac's is the route's verify.header, which the journal redacts.
var providers = map[string]provider{
	"github":            {build: newGitHub, event: event(header("X-GitHub-Event"), field("action")), signatures: []string{githubSignatureHeader, githubSHA1Header}},
	"gitlab":            {tolerance: 5 * time.Minute, build: newGitLab, event: event(header("X-Gitlab-Event")).or(field("object_kind")), signatures: []string{gitlabSignatureHeader}},
	"bitbucket":         {build: newBitbucket, event: event(header("X-Event-Key")), signatures: []string{hubSignatureHeader}},
	"bitbucket-server":  {build: newBitbucketServer, event: event(header("X-Event-Key")), signatures: []string{hubSignatureHeader}},
	"stripe":            {tolerance: 5 * time.Minute, build: newStripe, event: event(field("type")), signatures: []string{stripeSignatureHeader}},
	"standard-webhooks": {tolerance: 5 * time.Minute, build: newStandardWebhooks, event: event(field("type")), signatures: []string{svixSignatureHeader, standardSignatureHeader}},
	"slack":             {tolerance: 5 * time.Minute, build: newSlack, event: event(field("event", "type")).or(field("type")), signatures: []string{slackSignatureHeader}},
	"shopify":           {build: newShopify, event: event(header("X-Shopify-Topic")), signatures: []string{shopifySignatureHeader, shopifyEventsSignatureHeader}},
	"twilio":            {build: newTwilio, signatures: []string{twilioSignatureHeader}},
	"square":            {build: newSquare, event: event(field("type")), signatures: []string{squareSignatureHeader, squareSHA1Header}},
	"zoom":              {tolerance: 5 * time.Minute, build: newZoom, event: event(field("event")), signatures: []string{zoomSignatureHeader}},
	"discord":           {build: newDiscord, event: event(field("event", "type")).or(field("type")), signatures: []string{discordSignatureHeader}},
	"sendgrid":          {build: newSendGrid, event: event(field("0", "event")), signatures: []string{sendGridSignatureHeader}},
	"pagerduty":         {build: newPagerDuty, event: event(field("event", "event_type")).or(field("messages", "0", "event")), signatures: []string{pagerDutySignatureHeader}},
	"linear":            {tolerance: time.Minute, build: newLinear, event: event(field("type"), field("action")), signatures: []string{linearSignatureHeader}},
	"paddle":            {tolerance: 5 * time.Second, build: newPaddle, event: event(field("event_type")).or(field("alert_name")), signatures: []string{paddleSignatureHeader}},
	"hubspot":           {tolerance: 5 * time.Minute, build: newHubSpot, event: event(field("0", "subscriptionType")), signatures: []string{hubspotSignatureHeader, hubspotV1Header}},
	"intercom":          {build: newIntercom, event: event(field("topic")), signatures: []string{hubSignatureHeader}},
	"atlassian":         {build: newAtlassian, event: event(field("webhookEvent")), signatures: []string{hubSignatureHeader, atlassianSignatureHeader}},
	"teams":             {build: newTeams, event: event(field("type")), signatures: []string{teamsHeader}},
	"twitch":            {tolerance: 10 * time.Minute, build: newTwitch, event: event(header("Twitch-Eventsub-Subscription-Type")), signatures: []string{twitchSignatureHeader}},
	"typeform":          {build: newTypeform, event: event(field("event_type")), signatures: []string{typeformSignatureHeader}},
	"hmac":              {build: newGenericHMAC},
}
