module github.com/vcci-dev/vcci/services/hotspot

go 1.26.0

require github.com/vcci-dev/vcci/pkg v0.0.0

replace github.com/vcci-dev/vcci/pkg => ../../pkg
