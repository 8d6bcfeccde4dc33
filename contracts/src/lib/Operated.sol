// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Operated
/// @notice Two roles kept apart: an immutable admin who may only replace the
/// operator, and the operator who alone runs the contract's business (moving
/// capital, paying claims and recoveries). A stolen admin key cannot move
/// funds; a stolen operator key can be replaced.
abstract contract Operated {
    /// @notice May change the operator; cannot move capital itself.
    address public immutable admin;
    /// @notice The only account that may run the contract's guarded functions.
    address public operator;

    event OperatorChanged(address indexed previousOperator, address indexed newOperator);

    error Unauthorized(address caller);
    error ZeroAddress();

    modifier onlyOperator() {
        if (msg.sender != operator) revert Unauthorized(msg.sender);
        _;
    }

    modifier onlyAdmin() {
        if (msg.sender != admin) revert Unauthorized(msg.sender);
        _;
    }

    constructor(address admin_, address operator_) {
        if (admin_ == address(0) || operator_ == address(0)) revert ZeroAddress();
        admin = admin_;
        operator = operator_;
        emit OperatorChanged(address(0), operator_);
    }

    function setOperator(address newOperator) external onlyAdmin {
        if (newOperator == address(0)) revert ZeroAddress();
        emit OperatorChanged(operator, newOperator);
        operator = newOperator;
    }
}
