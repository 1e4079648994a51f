// Command intake serves the IntakeService: spend uploads, their validation
// and calculation in the background, and the suppliers they name.
package main

import (
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/services/intake/server"
)

func main() { service.Main("intake", server.Run) }
