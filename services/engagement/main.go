// Command engagement serves the EngagementService: supplier engagement
// campaigns.
package main

import (
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/engagement/server"
)

func main() { service.Main("engagement", server.Run) }
