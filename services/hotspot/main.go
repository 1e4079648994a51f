// Command hotspot serves the HotspotService: where a tenant's emissions
// concentrate.
package main

import (
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/hotspot/server"
)

func main() { service.Main("hotspot", server.Run) }
