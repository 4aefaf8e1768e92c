package dev.sparktune.evaluation;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.rows.TokenArrays;
import dev.sparktune.train.CausalLmLoss;
import java.io.Serializable;
import org.apache.spark.sql.Row;

/**
 * A scored tokenized row's share of a token-weighted mean loss: {mean loss × scored tokens, scored tokens}, the
 * tokens counted as the loss counts them ({@link CausalLmLoss#predictedTokens}); {0, 0} for a row without a loss.
 */
final class TokenLoss implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String lossColumn;

    TokenLoss(String lossColumn) {
        this.lossColumn = lossColumn;
    }

    double[] of(Row row) {
        int loss = row.fieldIndex(lossColumn);
        if (row.isNullAt(loss)) {
            return new double[2];
        }
        TokenizedRow tokens = new TokenizedRow(TokenArrays.longs(row, TokenizedParquet.INPUT_IDS),
                TokenArrays.longs(row, TokenizedParquet.LABELS), TokenArrays.longs(row, TokenizedParquet.SEGMENT_IDS),
                null, null);
        double n = CausalLmLoss.predictedTokens(tokens);
        return new double[] {row.getDouble(loss) * n, n};
    }
}
