package dev.sparktune.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizedParquetTest {
    private final Configuration conf = new Configuration();

    private static List<TokenizedRow> rows(int n, long seed) {
        Random random = new Random(seed);
        List<TokenizedRow> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int length = 1 + random.nextInt(40);
            long[] ids = random.longs(length, 0, 30000).toArray();
            long[] labels = i % 3 == 0 ? null : ids.clone();
            if (labels != null) {
                labels[0] = -100;
            }
            long[] segments = i % 5 == 0 ? random.longs(length, 0, 4).toArray() : null;
            rows.add(new TokenizedRow(ids, labels, segments, i % 2 == 0 ? (long) (i % 7) : null, i % 4 == 0 ? "task" + i % 3 : null));
        }
        return rows;
    }

    @Test
    void rowsRoundTripThroughSeveralRowGroupsAndFiles(@TempDir Path dir) throws Exception {
        List<TokenizedRow> first = rows(600, 1);
        List<TokenizedRow> second = rows(250, 2);
        TokenizedParquet.write(conf, dir.resolve("part-00000.parquet").toString(), first, 4096);
        TokenizedParquet.write(conf, dir.resolve("part-00001.parquet").toString(), second, 4096);
        Files.writeString(dir.resolve("_SUCCESS"), "");

        List<TokenizedParquet.RowGroup> groups = TokenizedParquet.rowGroups(conf, dir.toUri().toString());

        assertTrue(groups.size() > 2, groups.size() + " row groups");
        assertEquals(850, groups.stream().mapToLong(TokenizedParquet.RowGroup::rows).sum());
        List<TokenizedRow> back = new ArrayList<>();
        groups.forEach(g -> back.addAll(TokenizedParquet.read(conf, g)));
        List<TokenizedRow> expected = new ArrayList<>(first);
        expected.addAll(second);
        assertEquals(expected, back);

        // any single row group reads on its own, as a rank reads its share
        TokenizedParquet.RowGroup last = groups.get(groups.size() - 1);
        List<TokenizedRow> tail = TokenizedParquet.read(conf, last);
        assertEquals(expected.subList(850 - (int) last.rows(), 850), tail);
    }

    @Test
    void emptyFolderIsAnErrorNamingIt(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("empty"));
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> TokenizedParquet.rowGroups(conf, dir.resolve("empty").toString()));
        assertTrue(empty.getMessage().contains("no tokenized Parquet rows"), empty.getMessage());
    }
}
