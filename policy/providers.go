package policy

import "time"

// providers is the table of signature schemes, by the name used in config
// and on the command line. Each entry's constructor lives in the file named
// for the provider.
var providers = map[string]provider{
	"github":            {build: newGitHub},
	"gitlab":            {tolerance: 5 * time.Minute, build: newGitLab},
	"bitbucket":         {build: newBitbucket},
	"bitbucket-server":  {build: newBitbucketServer},
	"stripe":            {tolerance: 5 * time.Minute, build: newStripe},
	"standard-webhooks": {tolerance: 5 * time.Minute, build: newStandardWebhooks},
	"slack":             {tolerance: 5 * time.Minute, build: newSlack},
	"shopify":           {build: newShopify},
	"twilio":            {build: newTwilio},
	"square":            {build: newSquare},
	"zoom":              {tolerance: 5 * time.Minute, build: newZoom},
	"discord":           {build: newDiscord},
	"sendgrid":          {build: newSendGrid},
	"pagerduty":         {build: newPagerDuty},
	"linear":            {tolerance: time.Minute, build: newLinear},
	"paddle":            {tolerance: 5 * time.Second, build: newPaddle},
	"hubspot":           {tolerance: 5 * time.Minute, build: newHubSpot},
	"intercom":          {build: newIntercom},
	"atlassian":         {build: newAtlassian},
	"teams":             {build: newTeams},
	"twitch":            {tolerance: 10 * time.Minute, build: newTwitch},
	"typeform":          {build: newTypeform},
	"hmac":              {build: newGenericHMAC},
}
