package dev.sparktune.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * Packs tokenized samples into rows of {@code cutoff_len} tokens, so a batch spends no compute on padding. Online
 * best-fit in the given order: each sample goes into the open row with the least room that still holds it (the
 * earliest such row on ties), else into a new row; O(n log n) and deterministic. Samples are never split or cut:
 * one longer than a row is an error, since cutting belongs to the tokenizing stage ({@code cutoff_len}) where it is
 * counted.
 */
public final class SequencePacker {
    private final int rowLength;
    private final long padTokenId;

    /**
     * @param rowLength  tokens per row, usually {@code cutoff_len}
     * @param padTokenId the input id after the last segment; it is masked out of attention and loss, so any valid
     *                   id serves
     */
    public SequencePacker(int rowLength, long padTokenId) {
        if (rowLength < 1) {
            throw new IllegalArgumentException("row length must be at least 1, got " + rowLength);
        }
        this.rowLength = rowLength;
        this.padTokenId = padTokenId;
    }

    public List<PackedRow> pack(List<TokenizedSample> samples) {
        List<List<Integer>> rows = new ArrayList<>();
        TreeSet<Room> open = new TreeSet<>(Comparator.comparingInt(Room::free).thenComparingInt(Room::row));
        for (int i = 0; i < samples.size(); i++) {
            int length = samples.get(i).length();
            if (length == 0 || length > rowLength) {
                throw new IllegalArgumentException("sample " + i + " has " + length + " tokens; packing takes "
                        + "samples of 1 to " + rowLength + " tokens (cut them to cutoff_len when tokenizing)");
            }
            Room room = open.ceiling(new Room(length, -1));
            if (room == null) {
                room = new Room(rowLength, rows.size());
                rows.add(new ArrayList<>());
            } else {
                open.remove(room);
            }
            rows.get(room.row()).add(i);
            if (room.free() > length) {
                open.add(new Room(room.free() - length, room.row()));
            }
        }
        List<PackedRow> packed = new ArrayList<>(rows.size());
        for (List<Integer> row : rows) {
            packed.add(layOut(samples, row));
        }
        return packed;
    }

    /** The samples {@link #pack} was given, in their original order. */
    public static List<TokenizedSample> unpack(List<PackedRow> rows) {
        int count = rows.stream().mapToInt(PackedRow::segments).sum();
        TokenizedSample[] samples = new TokenizedSample[count];
        for (PackedRow row : rows) {
            List<TokenizedSample> held = row.samples();
            for (int s = 0; s < held.size(); s++) {
                samples[row.sources()[s]] = held.get(s);
            }
        }
        return Arrays.asList(samples);
    }

    private PackedRow layOut(List<TokenizedSample> samples, List<Integer> members) {
        long[] ids = new long[rowLength];
        long[] labels = new long[rowLength];
        long[] segments = new long[rowLength];
        long[] positions = new long[rowLength];
        Arrays.fill(ids, padTokenId);
        Arrays.fill(labels, CausalLmLoss.IGNORE_INDEX);
        int at = 0;
        for (int s = 0; s < members.size(); s++) {
            TokenizedSample sample = samples.get(members.get(s));
            System.arraycopy(sample.inputIds(), 0, ids, at, sample.length());
            System.arraycopy(sample.labels(), 0, labels, at, sample.length());
            for (int t = 0; t < sample.length(); t++) {
                segments[at + t] = s + 1;
                positions[at + t] = t;
            }
            at += sample.length();
        }
        int[] sources = members.stream().mapToInt(Integer::intValue).toArray();
        return new PackedRow(ids, labels, segments, positions, sources);
    }

    private record Room(int free, int row) {
    }
}
