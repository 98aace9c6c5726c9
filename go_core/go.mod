module golat/go_core

go 1.22
