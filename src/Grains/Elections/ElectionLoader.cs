using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tprcs.Grains.Elections;

/// <summary>Reads, validates and indexes election definitions.</summary>
public static partial class ElectionLoader
{
    public const int MaxAreaCodeLength = 64;
    public const long MaxRegisteredVoters = 100_000;

    /// <summary>Enough to see the pattern of a broken file without drowning in a Nigeria-sized one.</summary>
    public const int MaxReportedProblems = 20;

    // \A and \z rather than ^ and $: '$' also matches before a trailing newline.
    [GeneratedRegex(@"\A[a-z0-9][a-z0-9-]{0,63}\z")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9-]{0,15}\z")]
    private static partial Regex PartyCodePattern();

    public static ElectionDefinition ParseJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<ElectionDefinition>(json, ElectionJson.Options)
                ?? throw new ElectionDefinitionException(["the document is null"], 1, source: null);
        }
        catch (JsonException ex)
        {
            throw Unreadable(ex, source: null);
        }
    }

    public static Election LoadJson(string json) => Load(ParseJson(json));

    /// <summary>Streams the file rather than reading it into one string: a Nigeria-sized definition is tens of megabytes.</summary>
    public static Election LoadFile(string path)
    {
        ElectionDefinition? def;
        using (var stream = File.OpenRead(path))
        {
            try
            {
                def = JsonSerializer.Deserialize<ElectionDefinition>(stream, ElectionJson.Options);
            }
            catch (JsonException ex)
            {
                throw Unreadable(ex, path);
            }
        }

        if (def is null)
        {
            throw new ElectionDefinitionException(["the document is null"], 1, path);
        }

        return Load(def, path);
    }

    public static Election Load(ElectionDefinition def) => Load(def, source: null);

    /// <summary>
    /// Some reader messages end with the position (zero-based), others carry none; every problem
    /// gets the JSON path and a one-based line in front instead.
    /// </summary>
    private static ElectionDefinitionException Unreadable(JsonException ex, string? source)
    {
        var reason = ex.Message;
        var position = reason.IndexOf(" Path: ", StringComparison.Ordinal);
        if (position > 0)
        {
            reason = reason[..position];
        }

        var line = ex.LineNumber is { } n ? $" (line {n + 1})" : "";
        return new ElectionDefinitionException([$"JSON at {ex.Path ?? "$"}{line}: {reason}"], 1, source, ex);
    }

    private static Election Load(ElectionDefinition def, string? source)
    {
        ArgumentNullException.ThrowIfNull(def);
        var check = new Validation(def);
        check.Run();
        if (check.Problems.Count > 0)
        {
            throw new ElectionDefinitionException(check.Problems, check.ProblemCount, source);
        }

        return new Election(def, check.LevelOf, check.ParentOf, check.Root);
    }

    /// <summary>
    /// The checks of one definition, field by field and then as a tree. Areas whose own fields are
    /// broken stay indexed where possible, so that one bad line does not cascade into "unknown
    /// parent" for all its descendants.
    /// </summary>
    private sealed class Validation(ElectionDefinition def)
    {
        private readonly List<string> _problems = [];
        private readonly Dictionary<string, int> _levelIndex = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _areaIndex = new(StringComparer.Ordinal);

        public IReadOnlyList<string> Problems => _problems;

        public int ProblemCount { get; private set; }

        /// <summary>Level index of each area; -1 when its level is unknown.</summary>
        public int[] LevelOf { get; private set; } = [];

        /// <summary>Index of each area's parent; -1 for a root or an unknown parent.</summary>
        public int[] ParentOf { get; private set; } = [];

        public int Root { get; private set; } = -1;

        public void Run()
        {
            CheckHeader();
            CheckLevels();
            CheckParties();
            var indexed = IndexAreas();
            if (indexed.Count == 0)
            {
                return;
            }

            LinkParents(indexed);
            CheckRoot(indexed);
            FindCycles(indexed);
            CheckChildren(indexed);
        }

        private void Problem(string text)
        {
            ProblemCount++;
            if (_problems.Count < MaxReportedProblems)
            {
                _problems.Add(text);
            }
        }

        private void Problem(AreaDefinition area, string text) => Problem($"area {Show(area.Code)}: {text}");

        private void CheckHeader()
        {
            if (string.IsNullOrEmpty(def.Id))
            {
                Problem("id: missing");
            }
            else if (!IdPattern().IsMatch(def.Id))
            {
                Problem($"id {Show(def.Id)}: must be 1 to 64 lower-case letters, digits or '-', starting with a letter or digit");
            }

            if (string.IsNullOrWhiteSpace(def.Name))
            {
                Problem("name: missing");
            }

            if (string.IsNullOrWhiteSpace(def.Contest))
            {
                Problem("contest: missing");
            }
        }

        private void CheckLevels()
        {
            var levels = def.Levels;
            if (levels.Count < 2)
            {
                Problem($"levels: {levels.Count} given, at least 2 needed (an area level and the polling-unit level)");
            }

            for (var i = 0; i < levels.Count; i++)
            {
                var level = levels[i];
                if (string.IsNullOrWhiteSpace(level))
                {
                    Problem($"levels[{i}]: missing name");
                }
                else if (!_levelIndex.TryAdd(level, i))
                {
                    Problem($"level {Show(level)}: duplicate level name");
                }
            }
        }

        private void CheckParties()
        {
            var parties = def.Parties;
            if (parties.Count == 0)
            {
                Problem("parties: none listed");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < parties.Count; i++)
            {
                var party = parties[i];
                if (party is null || string.IsNullOrEmpty(party.Code))
                {
                    Problem($"parties[{i}]: missing code");
                    continue;
                }

                if (!PartyCodePattern().IsMatch(party.Code))
                {
                    Problem($"party {Show(party.Code)}: code must be 1 to 16 letters, digits or '-', starting with a letter or digit");
                }

                if (!seen.Add(party.Code))
                {
                    Problem($"party {Show(party.Code)}: duplicate party code");
                }

                if (string.IsNullOrWhiteSpace(party.Name))
                {
                    Problem($"party {Show(party.Code)}: missing name");
                }
            }
        }

        /// <summary>Checks each area on its own and returns the indexes of those that can take part in the tree.</summary>
        private List<int> IndexAreas()
        {
            var areas = def.Areas;
            if (areas.Count == 0)
            {
                Problem("areas: none listed");
            }

            LevelOf = new int[areas.Count];
            ParentOf = new int[areas.Count];
            Array.Fill(LevelOf, -1);
            Array.Fill(ParentOf, -1);
            var unitLevel = def.Levels.Count - 1;
            var indexed = new List<int>(areas.Count);

            for (var i = 0; i < areas.Count; i++)
            {
                var area = areas[i];
                if (area is null || string.IsNullOrEmpty(area.Code))
                {
                    Problem($"areas[{i}]: missing code");
                    continue;
                }

                if (area.Code.Length > MaxAreaCodeLength)
                {
                    Problem(area, $"code longer than {MaxAreaCodeLength} characters");
                }

                if (HasWhiteSpace(area.Code))
                {
                    Problem(area, "code contains whitespace");
                }

                if (!_areaIndex.TryAdd(area.Code, i))
                {
                    Problem(area, $"duplicate area code (first at areas[{_areaIndex[area.Code]}])");
                    continue;
                }

                indexed.Add(i);
                if (string.IsNullOrWhiteSpace(area.Name))
                {
                    Problem(area, "missing name");
                }

                if (string.IsNullOrEmpty(area.Level) || !_levelIndex.TryGetValue(area.Level, out var level))
                {
                    Problem(area, $"unknown level {Show(area.Level)}");
                    continue;
                }

                LevelOf[i] = level;
                if (level == unitLevel)
                {
                    if (area.RegisteredVoters is not { } voters)
                    {
                        Problem(area, "polling unit without registeredVoters");
                    }
                    else if (voters is < 0 or > MaxRegisteredVoters)
                    {
                        Problem(area, $"registeredVoters {voters} out of range 0..{MaxRegisteredVoters}");
                    }
                }
                else if (area.RegisteredVoters is not null)
                {
                    Problem(area, $"registeredVoters given on a non-unit area (level {Show(area.Level)}); an area's figure is the sum of its units");
                }
            }

            return indexed;
        }

        private void LinkParents(List<int> indexed)
        {
            var areas = def.Areas;
            foreach (var i in indexed)
            {
                var area = areas[i];
                if (area.Parent is null)
                {
                    continue;
                }

                if (!_areaIndex.TryGetValue(area.Parent, out var parent))
                {
                    Problem(area, $"unknown parent {Show(area.Parent)}");
                    continue;
                }

                ParentOf[i] = parent;
                int own = LevelOf[i], above = LevelOf[parent];
                if (own < 0 || above < 0 || own == above + 1)
                {
                    continue;
                }

                var expected = above + 1 < def.Levels.Count
                    ? $"expected level {Show(def.Levels[above + 1])}"
                    : "which has no level below it";
                Problem(area, $"levels out of order: level {Show(area.Level)} under parent {Show(area.Parent)} at level {Show(def.Levels[above])}, {expected}");
            }
        }

        private void CheckRoot(List<int> indexed)
        {
            var areas = def.Areas;
            var roots = indexed.Where(i => areas[i].Parent is null).ToList();
            if (roots.Count == 0)
            {
                Problem("areas: no root (an area without parent); exactly one is needed");
                return;
            }

            if (roots.Count > 1)
            {
                var named = string.Join(", ", roots.Take(5).Select(i => Show(areas[i].Code)));
                var more = roots.Count > 5 ? $" and {roots.Count - 5} more" : "";
                Problem($"areas: {roots.Count} roots (areas without parent): {named}{more}; exactly one is needed");
                return;
            }

            Root = roots[0];
            var root = areas[Root];
            if (LevelOf[Root] > 0)
            {
                Problem(root, $"the root must be at the first level {Show(def.Levels[0])}, not {Show(root.Level)}");
            }
        }

        /// <summary>
        /// Checked explicitly: the level rule alone would not name the loop, and a definition with
        /// unknown levels would slip a cycle past it.
        /// </summary>
        private void FindCycles(List<int> indexed)
        {
            const int unseen = 0, onPath = 1, done = 2;
            var state = new byte[def.Areas.Count];
            var path = new List<int>();
            foreach (var start in indexed)
            {
                path.Clear();
                var i = start;
                while (i >= 0 && state[i] == unseen)
                {
                    state[i] = onPath;
                    path.Add(i);
                    i = ParentOf[i];
                }

                if (i >= 0 && state[i] == onPath)
                {
                    var first = path.IndexOf(i);
                    var length = path.Count - first;
                    var names = path.Skip(first).Take(10).Select(j => Show(def.Areas[j].Code)).ToList();
                    var shown = length <= 10
                        ? string.Join(" -> ", names.Append(names[0]))
                        : $"{string.Join(" -> ", names)} -> ... ({length} areas)";
                    Problem(def.Areas[i], $"cycle in parents: {shown}");
                }

                foreach (var j in path)
                {
                    state[j] = done;
                }
            }
        }

        private void CheckChildren(List<int> indexed)
        {
            var hasChildren = new bool[def.Areas.Count];
            foreach (var i in indexed)
            {
                if (ParentOf[i] >= 0)
                {
                    hasChildren[ParentOf[i]] = true;
                }
            }

            var unitLevel = def.Levels.Count - 1;
            foreach (var i in indexed)
            {
                if (LevelOf[i] >= 0 && LevelOf[i] < unitLevel && !hasChildren[i])
                {
                    Problem(def.Areas[i], $"no children (an area above the {Show(def.Levels[unitLevel])} level needs at least one)");
                }
            }
        }

        // A plain loop rather than LINQ: it runs over every character of up to 186,000 codes.
        private static bool HasWhiteSpace(string code)
        {
            foreach (var c in code)
            {
                if (char.IsWhiteSpace(c))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>
        /// Quotes a value for a message, cut short so that a megabyte-long code cannot flood the log,
        /// and with control characters escaped so that a code holding a newline cannot break the
        /// one-problem-per-line message.
        /// </summary>
        private static string Show(string? value)
        {
            if (value is null)
            {
                return "(none)";
            }

            var shown = value.Length <= 80 ? value : $"{value[..80]}...";
            if (shown.Any(char.IsControl))
            {
                shown = string.Concat(shown.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
            }

            return $"'{shown}'";
        }
    }
}

/// <summary>A definition that cannot be loaded. The message lists the problems, one per line, each naming the area or field.</summary>
public sealed class ElectionDefinitionException : Exception
{
    internal ElectionDefinitionException(IReadOnlyList<string> problems, int problemCount, string? source, Exception? inner = null)
        : base(Compose(problems, problemCount, source), inner)
    {
        Problems = problems;
        ProblemCount = problemCount;
    }

    /// <summary>The first <see cref="ElectionLoader.MaxReportedProblems"/> problems.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>How many problems were found, including those not listed.</summary>
    public int ProblemCount { get; }

    private static string Compose(IReadOnlyList<string> problems, int problemCount, string? source)
    {
        var text = new StringBuilder("Election definition");
        if (source is not null)
        {
            text.Append(" '").Append(source).Append('\'');
        }

        text.Append(problemCount == 1 ? " has 1 problem:" : $" has {problemCount} problems:");
        foreach (var problem in problems)
        {
            text.Append('\n').Append(problem);
        }

        if (problemCount > problems.Count)
        {
            text.Append('\n').Append($"... and {problemCount - problems.Count} more");
        }

        return text.ToString();
    }
}
