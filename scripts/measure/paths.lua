-- wrk script: requests the paths of the file named by env PATHS in turn, once
-- each per thread, then from the start again (clicks repeat only after the file).
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
