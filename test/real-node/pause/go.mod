module mesh.local/pause

go 1.26
